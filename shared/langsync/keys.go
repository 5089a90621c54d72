package langsync

import (
	"fmt"
	"path"
	"strings"
	"time"
)

// Default container names (docs/backup.md, storage layout).
const (
	DefaultBackupContainer = "langsync-backups"
	DefaultStateContainer  = "langsync-state"
)

// Key prefixes inside the state container.
const (
	RunsPrefix    = "runs/"
	PairsPrefix   = "pairs/"
	FailedPrefix  = "failed/"
	RestorePrefix = "restore/"
	LocksPrefix   = "locks/"
	// QuarantinePrefix holds one record per backup set aside (the backup
	// container may be write-once, so the mark cannot live there).
	QuarantinePrefix = "quarantine/"
	// VerifiedPrefix caches successful verifications of backups.
	VerifiedPrefix = "verified/"
)

// KeyTimeFormat is the UTC timestamp format used inside blob names: it sorts
// lexically in time order and has no characters that need escaping.
const KeyTimeFormat = "20060102T150405Z"

// BackupKey is the blob name of a backup in the backup container:
// <source>/<project>/<UTC time>-<sha12>.tar.gz.
func BackupKey(source, project string, t time.Time, sha256hex string) string {
	short := sha256hex
	if len(short) > 12 {
		short = short[:12]
	}
	return fmt.Sprintf("%s/%s/%s-%s.tar.gz", source, project, t.UTC().Format(KeyTimeFormat), short)
}

// BackupPrefix is the prefix under which a project's backups are listed.
func BackupPrefix(source, project string) string { return source + "/" + project + "/" }

// ParseBackupKey splits a backup blob name into its parts.
func ParseBackupKey(key string) (source, project string, t time.Time, sha12 string, err error) {
	parts := strings.Split(key, "/")
	if len(parts) != 3 || !strings.HasSuffix(parts[2], ".tar.gz") {
		return "", "", time.Time{}, "", fmt.Errorf("langsync: %q is not a backup name (want <source>/<project>/<time>-<sha>.tar.gz)", key)
	}
	base := strings.TrimSuffix(parts[2], ".tar.gz")
	ts, sha, ok := strings.Cut(base, "-")
	if !ok {
		return "", "", time.Time{}, "", fmt.Errorf("langsync: %q is not a backup name (no -<sha> after the time)", key)
	}
	t, err = time.Parse(KeyTimeFormat, ts)
	if err != nil {
		return "", "", time.Time{}, "", fmt.Errorf("langsync: %q is not a backup name: bad time: %w", key, err)
	}
	return parts[0], parts[1], t, sha, nil
}

// QuarantineKey is the state blob recording why a backup was set aside.
func QuarantineKey(backupKey string) string { return QuarantinePrefix + backupKey + ".json" }

// VerifiedKey is the state blob caching a backup's last successful
// verification.
func VerifiedKey(backupKey string) string { return VerifiedPrefix + backupKey + ".json" }

// RunKey is the state blob of a run.
func RunKey(id string) string { return RunsPrefix + id + ".json" }

// PairKey is the state blob of a pair (last replicated fingerprint, last run).
func PairKey(p Pair) string {
	return path.Join(PairsPrefix, p.Source, p.Project, p.Target+pairSuffix(p)) + ".json"
}

func pairSuffix(p Pair) string {
	if p.TargetProject != "" && p.TargetProject != p.Project {
		return "~" + p.TargetProject
	}
	return ""
}

// LockKey is the state blob used as the per-(target, project) lock.
func LockKey(target, targetProject string) string {
	return LocksPrefix + target + "/" + targetProject + ".lock"
}

// FailedKey is where an input that could not be processed is kept. id
// (a message or invocation id, from outside) is reduced to letters, digits,
// '-', '_' and '.', at most 120 of them, so that it can neither leave the
// failed/ prefix nor make an overlong key.
func FailedKey(t time.Time, id string) string {
	return FailedPrefix + t.UTC().Format(KeyTimeFormat) + "-" + safeID(id) + ".json"
}

func safeID(id string) string {
	var b strings.Builder
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 120 {
			break
		}
	}
	return b.String()
}
