package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/langsync/langsync/shared/langsync"
)

// openJSON accepts a current-shape export or a legacy one (converted).
func openJSON(b []byte, lim Limits) (*Archive, error) {
	scan, err := scanExport(bytes.NewReader(b), lim.MaxJSONDepth)
	if err != nil {
		var le *LimitError
		if errors.As(err, &le) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	kind := KindProjectJSON
	if isLegacy(scan) {
		if b, err = ConvertLegacy(b); err != nil {
			return nil, err
		}
		if scan, err = scanExport(bytes.NewReader(b), lim.MaxJSONDepth); err != nil {
			return nil, fmt.Errorf("backup: converted legacy export: %w", err)
		}
		kind = KindLegacy
	}
	if err := scan.validate(); err != nil {
		return nil, err
	}
	if err := langsync.ValidateProjectName(scan.projectName); err != nil {
		return nil, &VerifyError{File: projectName, Reason: err.Error(), Err: err}
	}
	fp, err := fingerprint(scan.canonical, nil)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	m := &Manifest{
		Format: FormatName, FormatVersion: FormatVersion,
		Project: scan.projectName, ProjectKind: scan.projectKind,
		StorageContainer: scan.container, Fingerprint: fp,
		Counts: Counts{Documents: scan.documents, Classes: scan.classes, Entities: scan.entities, Files: 1},
		Files:  []File{{Path: projectName, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(b))}},
	}
	return &Archive{Kind: kind, Manifest: m, export: b}, nil
}

func isLegacy(s *exportScan) bool {
	return !s.topKeys["projectFileVersion"] &&
		(s.topKeys["api-version"] || s.metaKeys["modelType"] || s.assetsKeys["classifiers"] || s.assetsKeys["extractors"])
}

// legacyExport is the 2021-11-01-preview export/import body.
type legacyExport struct {
	APIVersion string `json:"api-version"`
	Metadata   struct {
		Name                      string          `json:"name"`
		MultiLingual              bool            `json:"multiLingual"`
		Description               string          `json:"description"`
		ModelType                 string          `json:"modelType"`
		Language                  string          `json:"language"`
		StorageInputContainerName string          `json:"storageInputContainerName"`
		Settings                  json.RawMessage `json:"settings,omitempty"`
	} `json:"metadata"`
	Assets struct {
		Classifiers []struct {
			Name string `json:"name"`
		} `json:"classifiers"`
		Extractors []struct {
			Name string `json:"name"`
		} `json:"extractors"`
		Documents []struct {
			Location    string `json:"location"`
			Language    string `json:"language"`
			Dataset     string `json:"dataset,omitempty"`
			Classifiers []struct {
				ClassifierName string `json:"classifierName"`
			} `json:"classifiers"`
			Extractors []struct {
				RegionOffset int `json:"regionOffset"`
				RegionLength int `json:"regionLength"`
				Labels       []struct {
					ExtractorName string `json:"extractorName"`
					Offset        int    `json:"offset"`
					Length        int    `json:"length"`
				} `json:"labels"`
			} `json:"extractors"`
		} `json:"documents"`
	} `json:"assets"`
}

type category struct {
	Category string `json:"category"`
}

type currentLabel struct {
	Category string `json:"category"`
	Offset   int    `json:"offset"`
	Length   int    `json:"length"`
}

type currentRegion struct {
	RegionOffset int            `json:"regionOffset"`
	RegionLength int            `json:"regionLength"`
	Labels       []currentLabel `json:"labels"`
}

type currentDocument struct {
	Location string          `json:"location"`
	Language string          `json:"language"`
	Dataset  string          `json:"dataset,omitempty"`
	Class    *category       `json:"class,omitempty"`
	Classes  []category      `json:"classes,omitempty"`
	Entities []currentRegion `json:"entities,omitempty"`
}

type currentExport struct {
	ProjectFileVersion string `json:"projectFileVersion"`
	StringIndexType    string `json:"stringIndexType"`
	Metadata           struct {
		ProjectKind               string          `json:"projectKind"`
		StorageInputContainerName string          `json:"storageInputContainerName"`
		Settings                  json.RawMessage `json:"settings"`
		ProjectName               string          `json:"projectName"`
		Multilingual              bool            `json:"multilingual"`
		Description               string          `json:"description"`
		Language                  string          `json:"language"`
	} `json:"metadata"`
	Assets struct {
		ProjectKind string            `json:"projectKind"`
		Classes     []category        `json:"classes,omitempty"`
		Entities    []category        `json:"entities,omitempty"`
		Documents   []currentDocument `json:"documents"`
	} `json:"assets"`
}

// legacyKinds maps 2021-11-01-preview modelType values (lowercased) to
// current project kinds.
var legacyKinds = map[string]string{
	"singleclassification":         "CustomSingleLabelClassification",
	"multiclassification":          "CustomMultiLabelClassification",
	"extraction":                   "CustomEntityRecognition",
	"entityrecognition":            "CustomEntityRecognition",
	"namedentityrecognition":       "CustomEntityRecognition",
	"customnamedentityrecognition": "CustomEntityRecognition",
}

// ConvertLegacy converts a 2021-11-01-preview export (metadata.name,
// metadata.modelType, assets.classifiers / extractors, documents with
// classifiers / extractors) to the current exported-project shape
// (projectFileVersion 2022-05-01): modelType becomes projectKind,
// classifiers become classes, extractors become entities.
func ConvertLegacy(b []byte) ([]byte, error) {
	var in legacyExport
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("%w: legacy export: %v", ErrFormat, err)
	}
	kind, ok := legacyKinds[strings.ToLower(in.Metadata.ModelType)]
	if !ok {
		return nil, fmt.Errorf("%w: legacy export: metadata.modelType %q is not singleClassification, multiClassification or extraction", ErrFormat, in.Metadata.ModelType)
	}
	var out currentExport
	out.ProjectFileVersion = "2022-05-01"
	out.StringIndexType = "Utf16CodeUnit"
	md := &out.Metadata
	md.ProjectKind, md.StorageInputContainerName = kind, in.Metadata.StorageInputContainerName
	md.ProjectName, md.Multilingual = in.Metadata.Name, in.Metadata.MultiLingual
	md.Description, md.Language = in.Metadata.Description, in.Metadata.Language
	md.Settings = in.Metadata.Settings
	if len(md.Settings) == 0 || string(md.Settings) == "null" {
		md.Settings = json.RawMessage("{}")
	}
	out.Assets.ProjectKind = kind
	for _, c := range in.Assets.Classifiers {
		out.Assets.Classes = append(out.Assets.Classes, category{c.Name})
	}
	for _, e := range in.Assets.Extractors {
		out.Assets.Entities = append(out.Assets.Entities, category{e.Name})
	}
	out.Assets.Documents = []currentDocument{}
	for _, d := range in.Assets.Documents {
		cd := currentDocument{Location: d.Location, Language: d.Language, Dataset: d.Dataset}
		switch kind {
		case "CustomSingleLabelClassification":
			if len(d.Classifiers) > 1 {
				return nil, fmt.Errorf("%w: legacy export: document %q has %d classifiers in a single-label project", ErrFormat, d.Location, len(d.Classifiers))
			}
			if len(d.Classifiers) == 1 {
				cd.Class = &category{d.Classifiers[0].ClassifierName}
			}
		case "CustomMultiLabelClassification":
			for _, c := range d.Classifiers {
				cd.Classes = append(cd.Classes, category{c.ClassifierName})
			}
			if cd.Classes == nil {
				cd.Classes = []category{}
			}
		case "CustomEntityRecognition":
			for _, r := range d.Extractors {
				cr := currentRegion{RegionOffset: r.RegionOffset, RegionLength: r.RegionLength, Labels: []currentLabel{}}
				for _, l := range r.Labels {
					cr.Labels = append(cr.Labels, currentLabel{l.ExtractorName, l.Offset, l.Length})
				}
				cd.Entities = append(cd.Entities, cr)
			}
		}
		out.Assets.Documents = append(out.Assets.Documents, cd)
	}
	res, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("backup: encoding converted legacy export: %w", err)
	}
	return res, nil
}
