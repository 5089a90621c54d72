package langsync

import "strings"

// Conversation project kinds (the conversations authoring API).
const (
	// Conversation is a conversational language understanding (CLU)
	// project: intents, entities and labelled utterances.
	Conversation ProjectKind = "Conversation"
	// Orchestration is an orchestration workflow project: intents that
	// route to other projects (CLU, question answering).
	Orchestration ProjectKind = "Orchestration"
)

// Conversational reports whether the kind belongs to the conversations
// authoring API (analyze-conversations) rather than analyze-text.
func (k ProjectKind) Conversational() bool {
	return k == Conversation || k == Orchestration
}

// Kinds lists every kind langsync replicates, in the order docs name them.
func Kinds() []ProjectKind {
	return []ProjectKind{SingleLabelClassification, MultiLabelClassification, EntityRecognition, Conversation, Orchestration}
}

// ParseProjectKind returns the kind named s, the service's projectKind
// value compared without regard to case ("conversation" is Conversation);
// false when langsync does not replicate such projects.
func ParseProjectKind(s string) (ProjectKind, bool) {
	for _, k := range Kinds() {
		if strings.EqualFold(s, string(k)) {
			return k, true
		}
	}
	return "", false
}

// Known reports whether langsync replicates projects of this kind.
func (k ProjectKind) Known() bool {
	switch k {
	case SingleLabelClassification, MultiLabelClassification, EntityRecognition, Conversation, Orchestration:
		return true
	}
	return false
}
