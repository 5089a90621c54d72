package app

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/langsync/langsync/shared/backup"
	"github.com/langsync/langsync/shared/pipeline"
)

// BackupArchive is the Archiver of shared/backup's format.
type BackupArchive struct {
	// Endpoint returns a resource's endpoint (only its host is recorded).
	Endpoint   func(resource string) string
	APIVersion string
	Limits     *backup.Limits
}

var _ Archiver = (*BackupArchive)(nil)

// Write streams an archive with backup.Write.
func (b *BackupArchive) Write(ctx context.Context, w io.Writer, docs DocumentSource, in pipeline.BackupInput) (ArchiveInfo, error) {
	info := backup.ManifestInfo{Source: in.Source, APIVersion: b.APIVersion, TrainedModelLabel: in.Model,
		ProjectTimestamps: backup.ProjectTimestamps{LastModified: timePtr(in.SourceState.LastModified), LastTrained: timePtr(in.SourceState.LastTrained), LastDeployed: timePtr(in.SourceState.LastDeployed)}}
	if b.Endpoint != nil {
		info.Endpoint = b.Endpoint(in.Source)
	}
	var src backup.DocumentSource
	if docs != nil {
		src = docs
	}
	m, err := backup.Write(ctx, w, in.Export, src, info)
	if err != nil {
		return ArchiveInfo{}, err
	}
	return ArchiveInfo{Fingerprint: m.Fingerprint, Documents: m.Counts.DocumentsStored, Container: m.StorageContainer}, nil
}

// Export opens (and so verifies) an archive and returns its export JSON.
func (b *BackupArchive) Export(_ context.Context, r io.Reader) ([]byte, error) {
	a, err := backup.Open(r, b.Limits)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	return a.Export(), nil
}

// Documents opens (and so verifies) an archive and hands over each document.
func (b *BackupArchive) Documents(ctx context.Context, r io.Reader, fn func(container, name string, body []byte) error) error {
	a, err := backup.Open(r, b.Limits)
	if err != nil {
		return err
	}
	defer a.Close()
	for _, f := range a.Documents() {
		if err := ctx.Err(); err != nil {
			return err
		}
		loc := f.Document()
		fh, err := a.OpenDocument(loc)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(fh)
		fh.Close()
		if err != nil {
			return fmt.Errorf("reading archived document %s: %w", loc, err)
		}
		if err := fn("", loc, body); err != nil {
			return err
		}
	}
	return nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
