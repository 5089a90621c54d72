package customhandler

// SplitEnvelope exposes splitEnvelope (keeping every binding) to tests.
func SplitEnvelope(raw []byte) (InvokeRequest, error) { return splitEnvelope(raw, nil) }
