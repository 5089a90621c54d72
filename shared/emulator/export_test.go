package emulator

// RoutePatterns lists the registered ServeMux patterns, for the route table
// test.
func RoutePatterns() []string {
	var ps []string
	for _, rt := range routes {
		ps = append(ps, rt.pattern)
	}
	return ps
}
