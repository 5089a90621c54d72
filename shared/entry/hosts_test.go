package entry_test

import (
	"github.com/langsync/langsync/shared/customhandler"
	"github.com/langsync/langsync/shared/entry"
	"github.com/langsync/langsync/shared/entry/entrytest"
	"github.com/langsync/langsync/shared/lambdahandler"
)

// Points and StateKeeper are what both hosts run on, and the fakes stand in
// for them in either host's tests (a test-only import: entry itself links
// no host).
var (
	_ customhandler.Runner   = (*entry.Points)(nil)
	_ customhandler.Starter  = (*entry.Points)(nil)
	_ customhandler.Reporter = (*entry.Points)(nil)
	_ customhandler.Keeper   = entry.StateKeeper{}
	_ lambdahandler.Runner   = (*entry.Points)(nil)
	_ lambdahandler.Starter  = (*entry.Points)(nil)
	_ lambdahandler.Reporter = (*entry.Points)(nil)
	_ lambdahandler.Keeper   = entry.StateKeeper{}

	_ customhandler.Runner   = (*entrytest.Pipeline)(nil)
	_ customhandler.Starter  = (*entrytest.Pipeline)(nil)
	_ customhandler.Reporter = (*entrytest.Pipeline)(nil)
	_ customhandler.Keeper   = (*entrytest.Keeper)(nil)
	_ lambdahandler.Runner   = (*entrytest.Pipeline)(nil)
	_ lambdahandler.Starter  = (*entrytest.Pipeline)(nil)
	_ lambdahandler.Reporter = (*entrytest.Pipeline)(nil)
	_ lambdahandler.Keeper   = (*entrytest.Keeper)(nil)
)
