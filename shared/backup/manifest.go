package backup

import (
	"net/url"
	"strings"
	"time"
)

// Format identifiers.
const (
	// FormatName is the manifest's "format" value.
	FormatName = "langsync-backup"
	// FormatVersion is the manifest version this package writes and reads.
	FormatVersion = 1

	manifestName = "manifest.json"
	projectName  = "project.json"
	docsPrefix   = "documents/"
)

// Manifest is manifest.json: what the archive holds and how to check it.
type Manifest struct {
	Format        string `json:"format"`
	FormatVersion int    `json:"formatVersion"`
	Project       string `json:"project"`
	ProjectKind   string `json:"projectKind"`
	Source        Source `json:"source"`
	APIVersion    string `json:"apiVersion,omitempty"`
	// TrainedModelLabel is set when the export was of a trained model's data.
	TrainedModelLabel string            `json:"trainedModelLabel,omitempty"`
	ExportedAt        time.Time         `json:"exportedAt"`
	ProjectTimestamps ProjectTimestamps `json:"projectTimestamps"`
	// StorageContainer is the export's storageInputContainerName, where the
	// documents came from (and where a target expects them).
	StorageContainer string `json:"storageContainer,omitempty"`
	Fingerprint      string `json:"fingerprint"`
	Counts           Counts `json:"counts"`
	// MissingDocuments lists documents the export names that the source's
	// storage did not have (only with ManifestInfo.AllowMissingDocuments).
	MissingDocuments []string `json:"missingDocuments,omitempty"`
	// Files comes last (Write streams it): project.json, then documents/...
	// in location order.
	Files []File `json:"files"`
}

// Source names the resource the export came from; never a key.
type Source struct {
	Name         string `json:"name"`
	EndpointHost string `json:"endpointHost,omitempty"`
}

// ProjectTimestamps are the source project's times when it was exported.
type ProjectTimestamps struct {
	Created      *time.Time `json:"createdDateTime,omitempty"`
	LastModified *time.Time `json:"lastModifiedDateTime,omitempty"`
	LastTrained  *time.Time `json:"lastTrainedDateTime,omitempty"`
	LastDeployed *time.Time `json:"lastDeployedDateTime,omitempty"`
}

// Counts summarises the export and the archive.
type Counts struct {
	Documents        int `json:"documents"`
	DocumentsStored  int `json:"documentsStored"`
	Classes          int `json:"classes"`
	Entities         int `json:"entities"`
	Files            int `json:"files"`
	MissingDocuments int `json:"missingDocuments,omitempty"`
	// Intents and Utterances count a conversation (CLU, orchestration)
	// project's, whose utterances live in the project file: its archive
	// holds no documents.
	Intents    int `json:"intents,omitempty"`
	Utterances int `json:"utterances,omitempty"`
}

// File is one archived file and its hash.
type File struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Document returns the location of a documents/ entry ("" otherwise).
func (f File) Document() string {
	loc, ok := strings.CutPrefix(f.Path, docsPrefix)
	if !ok {
		return ""
	}
	return loc
}

// ManifestInfo is what Write records about the export's origin.
type ManifestInfo struct {
	// Source is the source resource's name in the configuration.
	Source string
	// Endpoint of the source; only its host is recorded.
	Endpoint          string
	APIVersion        string
	TrainedModelLabel string
	// ExportedAt defaults to now.
	ExportedAt        time.Time
	ProjectTimestamps ProjectTimestamps
	// DocumentContainer overrides the export's storageInputContainerName
	// as the container read from the document source.
	DocumentContainer string
	// AllowMissingDocuments records documents the source lacks in the
	// manifest instead of failing the backup.
	AllowMissingDocuments bool
	// TempDir holds the spooled export while writing (default os.TempDir).
	TempDir string
}

// hostOf returns the host of an endpoint URL (or the input if it has none).
func hostOf(endpoint string) string {
	if endpoint == "" {
		return ""
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return strings.SplitN(strings.TrimPrefix(strings.TrimPrefix(endpoint, "https://"), "http://"), "/", 2)[0]
	}
	return u.Host
}
