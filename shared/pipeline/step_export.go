package pipeline

import (
	"context"
	"errors"

	"github.com/langsync/langsync/shared/langsync"
)

// Exporter is what the export step needs of the source.
type Exporter interface {
	// BeginExport starts an export; an empty modelLabel exports the working copy.
	BeginExport(ctx context.Context, project, modelLabel string) (langsync.Job, error)
}

func (x *exec) exporter() (Exporter, error) { return x.client(x.run.Source) }

// exportOps export a model (or the working copy) from the source; the job's
// result URL is kept for the backup step.
func (x *exec) exportOps(s *langsync.Step) jobOps {
	r, label := x.run, s.Model
	return jobOps{
		kind: langsync.JobExport, resource: r.Source,
		begin: func(ctx context.Context) (langsync.Job, error) {
			c, err := x.exporter()
			if err != nil {
				return langsync.Job{}, err
			}
			return c.BeginExport(ctx, r.Project, label)
		},
		// No recover: the API lists no export jobs, and an export changes
		// nothing on the service, so after a crash between the POST and
		// the save the export is simply requested again.
		done: func(ctx context.Context, js *JobState) error {
			if js.ResultURL == "" {
				return errors.New("export job succeeded without a resultUrl")
			}
			// Steps may have been re-sliced; address by pointer again.
			x.stepByID(s.ID()).ResultURL = js.ResultURL
			return nil
		},
	}
}
