package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/langsync/langsync/shared/backup"
	"github.com/langsync/langsync/shared/pipeline"
)

// BackupArchive is the Archiver of shared/backup's format.
type BackupArchive struct {
	// Endpoint returns a resource's endpoint (only its host is recorded).
	Endpoint func(resource string) string
	// APIVersion is recorded for text projects' exports.
	APIVersion string
	// ConversationsAPIVersion returns the api-version a resource's
	// conversation projects are exported with, recorded for their
	// exports; nil records APIVersion.
	ConversationsAPIVersion func(resource string) string
	Limits                  *backup.Limits
	// TempDir holds an archive between its verifying pass and its
	// document pass (default os.TempDir).
	TempDir string
}

var _ Archiver = (*BackupArchive)(nil)

// Write streams an archive with backup.Write.
func (b *BackupArchive) Write(ctx context.Context, w io.Writer, docs DocumentSource, in pipeline.BackupInput) (ArchiveInfo, error) {
	info := backup.ManifestInfo{Source: in.Source, APIVersion: b.APIVersion, TrainedModelLabel: in.Model,
		ProjectTimestamps: backup.ProjectTimestamps{LastModified: timePtr(in.SourceState.LastModified), LastTrained: timePtr(in.SourceState.LastTrained), LastDeployed: timePtr(in.SourceState.LastDeployed)}}
	if b.Endpoint != nil {
		info.Endpoint = b.Endpoint(in.Source)
	}
	if in.Kind.Conversational() && b.ConversationsAPIVersion != nil {
		info.APIVersion = b.ConversationsAPIVersion(in.Source)
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

// Export opens (and so verifies, in one streaming pass that writes
// nothing) an archive and returns its export JSON.
func (b *BackupArchive) Export(_ context.Context, r io.Reader) ([]byte, error) {
	a, err := backup.Open(r, b.Limits)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	return a.Export(), nil
}

// Documents verifies an archive and then hands over each document, checked
// against the verified manifest. The archive is read once from r, verified
// as it streams (backup.OpenKeep), and copied as stored (compressed, so
// never more than the bytes verification has read) into one temporary file
// for the second pass; no document is handed over before the whole archive
// has verified.
func (b *BackupArchive) Documents(ctx context.Context, r io.Reader, fn func(container, name string, body []byte) error) error {
	tmp, err := os.CreateTemp(b.TempDir, "langsync-restore-*.tar.gz")
	if err != nil {
		return fmt.Errorf("app: spooling the archive: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	a, err := backup.OpenKeep(r, tmp, b.Limits)
	if err != nil {
		return err
	}
	defer a.Close()
	return a.EachDocument(ctx, func(f backup.File, body []byte) error {
		return fn("", f.Document(), body)
	})
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
