package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// Importer is what the import step needs of the target: the project's
// modification time (the evidence of an import started before a crash) and
// the import.
type Importer interface {
	ProjectReader
	BeginImport(ctx context.Context, project string, exported io.ReadSeeker) (langsync.Job, error)
}

func (x *exec) importer(target string) (langsync.Pair, Importer, error) { return x.target(target) }

// importOps import the backed-up export into the target project, renamed
// when the target keeps it under another name.
func (x *exec) importOps(s *langsync.Step) jobOps {
	target, label := s.Target, s.Model
	var data []byte
	return jobOps{
		kind: langsync.JobImport, resource: target,
		prepare: func(ctx context.Context) error {
			pair, err := x.pair(target)
			if err != nil {
				return err
			}
			m, err := x.model(label)
			if err != nil {
				return err
			}
			if data, err = x.exportFor(ctx, m, pair); err != nil {
				return err
			}
			return x.ensureDocumentContainer(ctx, target, m)
		},
		begin: func(ctx context.Context) (langsync.Job, error) {
			pair, c, err := x.importer(target)
			if err != nil {
				return langsync.Job{}, err
			}
			return c.BeginImport(ctx, pair.TargetName(), bytes.NewReader(data))
		},
		// The API lists no import jobs. Evidence instead: the target
		// project's lastModifiedDateTime, read before the POST, has changed
		// (or the project appeared). Without it the import is sent again
		// (the same data, so a repeat changes nothing but the job count).
		snapshot: func(ctx context.Context) (string, error) { return x.projectStamp(ctx, target) },
		recover: func(ctx context.Context, before string) (*langsync.Job, bool, error) {
			now, err := x.projectStamp(ctx, target)
			return nil, err == nil && now != before, err
		},
	}
}

// projectStamp is the target project's lastModifiedDateTime ("" when the
// project does not exist).
func (x *exec) projectStamp(ctx context.Context, target string) (string, error) {
	pair, c, err := x.importer(target)
	if err != nil {
		return "", err
	}
	proj, err := c.GetProject(ctx, pair.TargetName())
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return proj.LastModified.UTC().Format(time.RFC3339Nano), nil
}

// exportFor reads the export from the backup and renames the project when
// the target keeps it under another name.
func (x *exec) exportFor(ctx context.Context, m *langsync.ModelPlan, pair langsync.Pair) ([]byte, error) {
	rc, err := x.p.opts.Backups.OpenExport(ctx, m.Backup)
	if err != nil {
		return nil, fmt.Errorf("opening backup %s: %w", m.Backup, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("reading backup %s: %w", m.Backup, err)
	}
	if pair.TargetName() != pair.Project {
		if data, err = RenameProject(data, pair.TargetName()); err != nil {
			return nil, err
		}
	}
	return x.orchestrationFor(ctx, data, pair)
}

// RenameProject sets metadata.projectName in an exported project JSON,
// keeping every other field as it is.
func RenameProject(export []byte, name string) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(export, &doc); err != nil {
		return nil, fmt.Errorf("export is not a JSON object: %w", err)
	}
	var meta map[string]json.RawMessage
	if err := json.Unmarshal(doc["metadata"], &meta); err != nil || meta == nil {
		return nil, errors.New("export has no metadata object")
	}
	n, _ := json.Marshal(name)
	meta["projectName"] = n
	mb, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	doc["metadata"] = mb
	return json.Marshal(doc)
}

// ensureDocumentContainer creates the target's document container before
// an import that a documents step of the same target and model follows
// (the copy runs while the import does; the service wants the container).
func (x *exec) ensureDocumentContainer(ctx context.Context, target string, m *langsync.ModelPlan) error {
	dc, ok := x.p.opts.Backups.(DocumentContainers)
	if !ok {
		return nil
	}
	for _, s := range x.run.Steps {
		if s.Name == langsync.StepDocuments && s.Target == target && s.Model == m.Label && !s.Status.Done() {
			if err := dc.EnsureDocumentContainer(ctx, target, m.StorageContainer); err != nil {
				return fmt.Errorf("creating the document container %q on %s storage: %w", m.StorageContainer, target, err)
			}
			return nil
		}
	}
	return nil
}
