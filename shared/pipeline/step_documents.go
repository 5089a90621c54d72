package pipeline

import (
	"context"
	"fmt"

	"github.com/langsync/langsync/shared/langsync"
)

// documents copies the backup's documents into the target's linked storage
// (planned only when it differs from the source's). It needs no authoring
// call.
func (x *exec) documents(ctx context.Context, s *langsync.Step) error {
	m, err := x.model(s.Model)
	if err != nil {
		return err
	}
	// The copy may have been started in the background as soon as the
	// backup was written (see overlap); a failed one is tried again here.
	var n int
	v, ok, err := x.p.bg.take(ctx, docsKey(x.run.ID, s.ID(), m.Backup), false)
	if ok && err == nil {
		n = v.(int)
	} else {
		n, err = x.p.copyDocuments(ctx, x.run.ID, s.ID(), m.Backup, s.Target, m.StorageContainer)
	}
	if err != nil {
		return fmt.Errorf("writing documents to %s storage: %w", s.Target, err)
	}
	s.Note = fmt.Sprintf("%s written to container %q", plural(n, "document"), m.StorageContainer)
	return nil
}
