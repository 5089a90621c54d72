package langsync

import "time"

// BackupRef identifies one backup blob and what is known about it without
// opening it (from its name and metadata).
type BackupRef struct {
	// Key is the blob name in the backup container; it is also the backup's id.
	Key     string `json:"key"`
	Source  string `json:"source"`
	Project string `json:"project"`
	// Model is the trained model label whose data was exported, when the
	// export was of one model ("" for the working copy).
	Model string    `json:"model,omitempty"`
	Time  time.Time `json:"time"`
	// SHA256 of the whole archive (hex), from blob metadata.
	SHA256 string `json:"sha256,omitempty"`
	Size   int64  `json:"size"`
	// Fingerprint of the export (hex), from blob metadata.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Documents is the number of documents carried in the archive.
	Documents int `json:"documents"`
	// Quarantine is set when the backup was set aside.
	Quarantine *Quarantine `json:"quarantine,omitempty"`
}

// Quarantine says why a backup was set aside (it failed verification, or an
// operator marked it). A quarantined backup is kept: retention never
// deletes it, but it is not reused, restored by time or counted as a good
// backup. Only an explicit, confirmed delete removes it.
type Quarantine struct {
	Reason string    `json:"reason"`
	Time   time.Time `json:"time"`
	// By says who set it aside (a command, a run).
	By string `json:"by,omitempty"`
}
