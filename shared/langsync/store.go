package langsync

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
)

// StoreKind says what a store locator names.
type StoreKind string

// Store locator kinds.
const (
	// StoreDirectory is a local directory (an explicit path).
	StoreDirectory StoreKind = "directory"
	// StoreConnectionString is a Blob connection string (account key or SAS).
	StoreConnectionString StoreKind = "connection string"
	// StoreAccountURL is an https account URL (Entra ID, or a SAS in its query).
	StoreAccountURL StoreKind = "account URL"
)

// StoreLocator is a parsed "where is this store" string: config's store and
// resources.*.storage, and the CLI's --storage. ParseStoreLocator is the one
// parser; storeopen.Open and config validation both use it, so a string that
// validates is a string that opens.
type StoreLocator struct {
	Kind StoreKind
	// Path of a directory store, as given (without file://).
	Path string
	// ConnectionString is the string rebuilt from the recognised keys with
	// their canonical spelling (UseDevelopmentStorage expanded). It holds
	// the account key or SAS: never log it.
	ConnectionString string
	// AccountURL of an account URL store; its query, if any, is a SAS.
	AccountURL string
	// SAS is true when AccountURL carries a shared access signature.
	SAS bool
}

// storeForms is the hint every locator error ends with.
const storeForms = "give a directory as an absolute path, ./relative/path or file://path; a Blob connection string such as DefaultEndpointsProtocol=https;AccountName=<account>;AccountKey=<key>;EndpointSuffix=core.windows.net; or an account URL https://<account>.blob.core.windows.net"

// Connection string keys (canonical spelling; matched case-insensitively).
const (
	csProtocol = "DefaultEndpointsProtocol"
	csAccount  = "AccountName"
	csKey      = "AccountKey"
	csSuffix   = "EndpointSuffix"
	csBlob     = "BlobEndpoint"
	csSAS      = "SharedAccessSignature"
	csDev      = "UseDevelopmentStorage"
	csDevProxy = "DevelopmentStorageProxyUri"
	csQueue    = "QueueEndpoint"
	csTable    = "TableEndpoint"
	csFile     = "FileEndpoint"
	csDataLake = "DfsEndpoint"
)

// connKeys are the keys a Blob connection string may hold. The queue,
// table, file and DFS endpoints are accepted (a copied emulator or portal
// string has them) and ignored: only Blob is used.
var connKeys = []string{csProtocol, csAccount, csKey, csSuffix, csBlob, csSAS, csDev, csDevProxy, csQueue, csTable, csFile, csDataLake}

// secretKeys hold credentials: their values never appear in a message.
var secretKeys = map[string]bool{csKey: true, csSAS: true}

// The storage emulator's well-known development account (public, documented
// by Microsoft for Azurite), used for UseDevelopmentStorage=true.
const (
	devAccount  = "devstoreaccount1"
	devKey      = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	devEndpoint = "http://127.0.0.1:10000/devstoreaccount1"
)

// ParseStoreLocator reads a store locator strictly. A directory comes only
// from an explicit path (absolute, ".", "..", "./...", "../..." or
// file://...); a string with '=' or ';' is a Blob connection string whose
// keys must all be known; http(s):// is an account URL. Anything else is an
// error. Errors name the problem and the fix and never repeat an account
// key, a SAS or any text that could be one.
func ParseStoreLocator(s string) (StoreLocator, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return StoreLocator{}, errors.New("the store locator is empty: " + storeForms)
	case hasPrefixFold(s, "file://"):
		p := s[len("file://"):]
		if p == "" {
			return StoreLocator{}, errors.New("file:// names no directory: write file:///absolute/path or file://relative/path")
		}
		return StoreLocator{Kind: StoreDirectory, Path: p}, nil
	case isExplicitPath(s):
		return StoreLocator{Kind: StoreDirectory, Path: s}, nil
	}
	if scheme, _, ok := strings.Cut(s, "://"); ok && isScheme(scheme) {
		switch strings.ToLower(scheme) {
		case "https", "http":
			return parseAccountURL(s)
		}
		return StoreLocator{}, fmt.Errorf("store URL scheme %q is not supported: %s", scheme, storeForms)
	}
	if strings.ContainsAny(s, "=;") {
		return parseConnectionString(s)
	}
	// A bare word or relative path: it might be a misplaced key, so it is
	// not repeated.
	return StoreLocator{}, errors.New("the store locator is not a directory path, a connection string or a URL (a relative directory must start with ./): " + storeForms)
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// isExplicitPath: a path that cannot be mistaken for a typo'd connection
// string or URL.
func isExplicitPath(s string) bool {
	if s == "." || s == ".." || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") {
		return true
	}
	if strings.HasPrefix(s, `.\`) || strings.HasPrefix(s, `..\`) {
		return true
	}
	return strings.HasPrefix(s, "/") || filepath.IsAbs(s)
}

// isScheme: RFC 3986 scheme syntax, short (a connection string typo such
// as "BlobEndpont=http://..." has '=' before "://" and is no scheme).
func isScheme(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.'):
		default:
			return false
		}
	}
	return true
}

func parseAccountURL(s string) (StoreLocator, error) {
	u, err := url.Parse(s)
	if err != nil {
		// url's error quotes the whole URL, SAS included: say only what.
		return StoreLocator{}, fmt.Errorf("the account URL %s is not a valid URL: %s", RedactURL(s), storeForms)
	}
	if u.Host == "" {
		return StoreLocator{}, fmt.Errorf("the account URL %s has no host: want https://<account>.blob.core.windows.net", RedactURL(s))
	}
	if u.User != nil {
		return StoreLocator{}, fmt.Errorf("the account URL %s carries credentials before the host: use a connection string, a SAS query (?sv=...&sig=...) or Entra ID instead", RedactURL(s))
	}
	if u.Fragment != "" {
		return StoreLocator{}, fmt.Errorf("the account URL %s has a #fragment: give only https://<account>.blob.core.windows.net (and a SAS query)", RedactURL(s))
	}
	loc := StoreLocator{Kind: StoreAccountURL, AccountURL: s}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil || q.Get("sig") == "" {
			return StoreLocator{}, fmt.Errorf("the account URL %s has a query that is not a shared access signature (want ?sv=...&sig=...)", RedactURL(s))
		}
		loc.SAS = true
	}
	return loc, nil
}

// RedactURL drops everything after the host and path (a SAS query, a
// fragment) and any user info, for messages.
func RedactURL(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i] + "?<redacted>"
	}
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		host, path, _ := strings.Cut(rest, "/")
		if at := strings.LastIndexByte(host, '@'); at >= 0 {
			host = "<redacted>@" + host[at+1:]
		}
		s = scheme + "://" + host
		if path != "" || strings.Contains(rest, "/") {
			s += "/" + path
		}
	}
	return s
}

func parseConnectionString(s string) (StoreLocator, error) {
	fail := func(format string, a ...any) (StoreLocator, error) {
		return StoreLocator{}, fmt.Errorf("the Blob connection string is malformed: %s (%s)", fmt.Sprintf(format, a...), "want DefaultEndpointsProtocol=https;AccountName=<account>;AccountKey=<key>;EndpointSuffix=core.windows.net, or BlobEndpoint=<url>;SharedAccessSignature=<sas>")
	}
	type kv struct{ key, value string }
	var pairs []kv
	var bad []string // raw segments that are not Key=Value, checked below
	for _, seg := range strings.Split(s, ";") {
		seg = strings.TrimSpace(seg)
		if seg == "" {
			continue
		}
		k, v, ok := strings.Cut(seg, "=")
		if !ok {
			bad = append(bad, seg)
			continue
		}
		pairs = append(pairs, kv{strings.TrimSpace(k), strings.TrimSpace(v)})
	}
	// Values of secret keys, so that an unknown key that contains one (a
	// missing ';') is never echoed.
	var secrets []string
	for _, p := range pairs {
		if c := canonicalKey(p.key); secretKeys[c] && p.value != "" {
			secrets = append(secrets, p.value)
		}
	}
	if len(bad) > 0 { // the first bad segment is reported
		seg := bad[0]
		if k := knownPrefix(seg); k != "" {
			return fail("the segment starting with %s has no '=' after the key name (write %s=<value>)", k, k)
		}
		if safeToShow(seg, secrets) {
			return fail("the segment %q is not Key=Value", seg)
		}
		return fail("a segment is not Key=Value (not shown: it may hold a secret)")
	}
	got := map[string]string{}
	for _, p := range pairs {
		c := canonicalKey(p.key)
		if c == "" {
			if k := knownPrefix(p.key); k != "" {
				return fail("the segment starting with %s has no '=' right after the key name (write %s=<value>)", k, k)
			}
			if !safeToShow(p.key, secrets) {
				return fail("a key is not one a Blob connection string has (not shown: it may hold a secret); known keys: %s", strings.Join(sortedKeys(), ", "))
			}
			if s := closestKey(p.key); s != "" {
				return fail("unknown key %q (did you mean %s?)", p.key, s)
			}
			return fail("unknown key %q; known keys: %s", p.key, strings.Join(sortedKeys(), ", "))
		}
		if _, dup := got[c]; dup {
			return fail("%s is given twice", c)
		}
		if p.value == "" {
			return fail("%s has no value", c)
		}
		got[c] = p.value
	}
	if len(got) == 0 {
		return fail("no Key=Value pairs")
	}
	if _, ok := got[csDevProxy]; ok {
		return fail("%s is not supported: point BlobEndpoint at the emulator instead", csDevProxy)
	}
	if v, ok := got[csDev]; ok {
		if !strings.EqualFold(v, "true") {
			return fail("%s must be true (or left out)", csDev)
		}
		for k := range got {
			if k != csDev {
				return fail("%s=true stands alone (it means the local emulator's development account); remove %s", csDev, k)
			}
		}
		got = map[string]string{csProtocol: "http", csAccount: devAccount, csKey: devKey, csBlob: devEndpoint}
	}
	if v, ok := got[csProtocol]; ok && v != "https" && v != "http" {
		return fail("%s must be https (or http for a local emulator)", csProtocol)
	}
	if v, ok := got[csBlob]; ok {
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return fail("%s is not an http(s) URL such as https://<account>.blob.core.windows.net", csBlob)
		}
		if u.RawQuery != "" || u.User != nil {
			return fail("%s must not carry a query or credentials: give the SAS as SharedAccessSignature=...", csBlob)
		}
	}
	acct, hasAcct := got[csAccount]
	_, hasBlob := got[csBlob]
	switch {
	case !hasAcct && !hasBlob:
		return fail("it needs AccountName (or BlobEndpoint)")
	case hasAcct && !hasBlob && !isAccountName(acct):
		return fail("AccountName must be 3 to 24 lowercase letters and digits")
	}
	key, hasKey := got[csKey]
	_, hasSAS := got[csSAS]
	switch {
	case hasKey && !hasAcct:
		return fail("AccountKey needs AccountName")
	case !hasKey && !hasSAS:
		return fail("it needs AccountKey (with AccountName) or SharedAccessSignature")
	case hasKey:
		if _, err := base64.StdEncoding.DecodeString(key); err != nil {
			return fail("AccountKey is not base64 (copy the whole key again, it ends with ==)")
		}
	}
	// Rebuild with the canonical spelling of the keys the Blob client reads
	// (it matches keys case-sensitively).
	var b strings.Builder
	for _, k := range []string{csProtocol, csAccount, csKey, csSuffix, csBlob, csSAS} {
		if v, ok := got[k]; ok {
			fmt.Fprintf(&b, "%s=%s;", k, v)
		}
	}
	return StoreLocator{Kind: StoreConnectionString, ConnectionString: strings.TrimSuffix(b.String(), ";")}, nil
}

func canonicalKey(k string) string {
	for _, c := range connKeys {
		if strings.EqualFold(k, c) {
			return c
		}
	}
	return ""
}

// knownPrefix returns the known key that s starts with, for "AccountKeyabc"
// (a missing '='); the text after it is never shown.
func knownPrefix(s string) string {
	best := ""
	for _, c := range connKeys {
		if hasPrefixFold(s, c) && len(c) > len(best) {
			best = c
		}
	}
	return best
}

// safeToShow: a short word of letters that is not part of a secret value.
func safeToShow(s string, secrets []string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	for _, sec := range secrets {
		if strings.Contains(sec, s) {
			return false
		}
	}
	return true
}

func sortedKeys() []string {
	out := append([]string(nil), connKeys[:6]...)
	sort.Strings(out)
	return out
}

// closestKey suggests the known key within a small edit distance.
func closestKey(k string) string {
	best, bestD := "", 4
	for _, c := range connKeys {
		if d := editDistance(strings.ToLower(k), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func isAccountName(s string) bool {
	if len(s) < 3 || len(s) > 24 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
