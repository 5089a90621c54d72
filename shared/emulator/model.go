package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"math"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf16"
)

// classifier is what a training job learns. Classification is multinomial
// naive Bayes over lowercase word tokens (Laplace smoothing); multi-label
// fits one binary (class / not class) naive Bayes per class and predicts
// every class whose posterior is at least 0.5. Entity recognition is a
// dictionary of labelled spans (lowercased) with their category counts.
type classifier struct {
	Kind    string                    `json:"kind"`
	Classes []string                  `json:"classes"`
	Docs    int                       `json:"docs"`
	NB      []nbClass                 `json:"nb,omitempty"`
	Bin     []binaryNB                `json:"bin,omitempty"`
	Phrases map[string]map[string]int `json:"phrases,omitempty"`

	vocab map[string]bool
}

type nbClass struct {
	Docs   int            `json:"docs"`
	Tokens int            `json:"tokens"`
	Words  map[string]int `json:"words"`
}

type binaryNB struct {
	Pos nbClass `json:"pos"`
	Neg nbClass `json:"neg"`
}

func newNB() nbClass { return nbClass{Words: map[string]int{}} }

func (n *nbClass) add(tokens []string) {
	n.Docs++
	n.Tokens += len(tokens)
	for _, t := range tokens {
		n.Words[t]++
	}
}

// tokenize splits text into lowercase words of letters and digits.
func tokenize(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

func (c *classifier) vocabulary() map[string]bool {
	if c.vocab == nil {
		c.vocab = map[string]bool{}
		add := func(n nbClass) {
			for w := range n.Words {
				c.vocab[w] = true
			}
		}
		for _, n := range c.NB {
			add(n)
		}
		for _, b := range c.Bin {
			add(b.Pos)
			add(b.Neg)
		}
	}
	return c.vocab
}

// logLikelihood sums log P(token|class) over known tokens, in token order so
// that the result is bit-for-bit reproducible.
func (c *classifier) logLikelihood(n nbClass, tokens []string) float64 {
	v := float64(len(c.vocabulary()))
	sum := 0.0
	for _, t := range tokens {
		if !c.vocab[t] {
			continue
		}
		sum += math.Log((float64(n.Words[t]) + 1) / (float64(n.Tokens) + v))
	}
	return sum
}

// classScore is one class and its confidence.
type classScore struct {
	Category        string  `json:"category"`
	ConfidenceScore float64 `json:"confidenceScore"`
}

// classify returns the classes predicted for text, best first: one for
// single-label, any number for multi-label.
func (c *classifier) classify(text string) []classScore {
	tokens := tokenize(text)
	switch c.Kind {
	case "CustomSingleLabelClassification":
		if len(c.Classes) == 0 {
			return nil
		}
		k := float64(len(c.Classes))
		scores := make([]float64, len(c.Classes))
		best := 0
		for i, n := range c.NB {
			scores[i] = math.Log((float64(n.Docs)+1)/(float64(c.Docs)+k)) + c.logLikelihood(n, tokens)
			if scores[i] > scores[best] {
				best = i
			}
		}
		total := 0.0
		for _, s := range scores {
			total += math.Exp(s - scores[best])
		}
		return []classScore{{Category: c.Classes[best], ConfidenceScore: round4(1 / total)}}
	case "CustomMultiLabelClassification":
		var out []classScore
		for i, b := range c.Bin {
			lp := math.Log((float64(b.Pos.Docs)+1)/(float64(c.Docs)+2)) + c.logLikelihood(b.Pos, tokens)
			ln := math.Log((float64(b.Neg.Docs)+1)/(float64(c.Docs)+2)) + c.logLikelihood(b.Neg, tokens)
			p := 1 / (1 + math.Exp(ln-lp))
			if p >= 0.5 {
				out = append(out, classScore{Category: c.Classes[i], ConfidenceScore: round4(p)})
			}
		}
		sort.SliceStable(out, func(a, b int) bool { return out[a].ConfidenceScore > out[b].ConfidenceScore })
		return out
	}
	return nil
}

func round4(f float64) float64 { return math.Round(f*10000) / 10000 }

// span is an entity found in a text, offsets in UTF-16 code units.
type span struct {
	Category   string
	Offset     int
	Length     int
	Confidence float64
}

// recognize finds dictionary phrases in text: longest first, whole words,
// case-insensitive, without overlaps.
func (c *classifier) recognize(text string) []span {
	runes := []rune(text)
	lower := make([]rune, len(runes))
	for i, r := range runes {
		lower[i] = unicode.ToLower(r)
	}
	phrases := sortedKeys(c.Phrases)
	sort.SliceStable(phrases, func(a, b int) bool { return len([]rune(phrases[a])) > len([]rune(phrases[b])) })
	taken := make([]bool, len(runes))
	var found []struct {
		start, end int
		cat        string
		conf       float64
	}
	for _, ph := range phrases {
		pr := []rune(ph)
		if len(pr) == 0 {
			continue
		}
		cat, conf := bestCategory(c.Phrases[ph])
		for i := 0; i+len(pr) <= len(lower); i++ {
			if !runesEqual(lower[i:i+len(pr)], pr) || !wordBoundary(lower, i, i+len(pr)) || anyTaken(taken[i:i+len(pr)]) {
				continue
			}
			for k := i; k < i+len(pr); k++ {
				taken[k] = true
			}
			found = append(found, struct {
				start, end int
				cat        string
				conf       float64
			}{i, i + len(pr), cat, conf})
			i += len(pr) - 1
		}
	}
	sort.Slice(found, func(a, b int) bool { return found[a].start < found[b].start })
	out := make([]span, 0, len(found))
	for _, f := range found {
		off := utf16Len(runes[:f.start])
		out = append(out, span{Category: f.cat, Offset: off, Length: utf16Len(runes[f.start:f.end]), Confidence: f.conf})
	}
	return out
}

func bestCategory(counts map[string]int) (string, float64) {
	best, total := "", 0
	for _, cat := range sortedKeys(counts) {
		total += counts[cat]
		if best == "" || counts[cat] > counts[best] {
			best = cat
		}
	}
	return best, round4(float64(counts[best]) / float64(total))
}

func runesEqual(a, b []rune) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func wordBoundary(text []rune, start, end int) bool {
	if start > 0 && isWordRune(text[start-1]) && isWordRune(text[start]) {
		return false
	}
	if end < len(text) && isWordRune(text[end]) && isWordRune(text[end-1]) {
		return false
	}
	return true
}

func anyTaken(b []bool) bool {
	for _, x := range b {
		if x {
			return true
		}
	}
	return false
}

func utf16Len(rs []rune) int {
	n := 0
	for _, r := range rs {
		n += utf16.RuneLen(r)
	}
	return n
}

// utf16Slice returns text[off:off+length] in UTF-16 code units.
func utf16Slice(text string, off, length int) (string, bool) {
	u := utf16.Encode([]rune(text))
	if off < 0 || length < 0 || off+length > len(u) {
		return "", false
	}
	return string(utf16.Decode(u[off : off+length])), true
}

// ---- training ----

type trainDoc struct {
	doc  document
	text string
}

// train reads the job's documents, fits a classifier on the Train split and
// evaluates it on the Test split.
func (s *Server) train(ctx context.Context, j *job, at time.Time) (*model, []apiError) {
	snap := j.Snapshot
	kind := snap.Meta.ProjectKind
	var docs []trainDoc
	var errs []apiError
	texts, readErrs := s.readDocuments(ctx, snap.Meta.StorageInputContainerName, snap.Assets.Documents)
	for i, d := range snap.Assets.Documents {
		text, err := texts[i], readErrs[i]
		if err != nil {
			msg := fmt.Sprintf("The document %q could not be read from the storage container %q: %v", d.Location, snap.Meta.StorageInputContainerName, err)
			inner := "InvalidDocument"
			if errors.Is(err, fs.ErrNotExist) {
				msg = fmt.Sprintf("The document %q was not found in the storage container %q connected to this resource.", d.Location, snap.Meta.StorageInputContainerName)
			}
			errs = append(errs, apiError{Code: "InvalidRequest", Message: msg, Target: d.Location, InnerError: &innerError{Code: inner, Message: msg}})
			if len(errs) >= 20 {
				break
			}
			continue
		}
		docs = append(docs, trainDoc{doc: d, text: text})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	ev := *j.EvalOptions
	var trainSet, testSet []trainDoc
	for _, d := range docs {
		if !labelled(kind, d.doc) {
			continue
		}
		if inTrainSplit(ev, d.doc.Dataset, d.doc.Location) {
			trainSet = append(trainSet, d)
		} else {
			testSet = append(testSet, d)
		}
	}
	if len(trainSet) == 0 {
		msg := "The Train split has no labelled documents; label documents (and check evaluationOptions) before training."
		return nil, []apiError{{Code: "InvalidRequest", Message: msg, InnerError: &innerError{Code: "InvalidDocument", Message: msg}}}
	}
	cl := fit(kind, categories(snap), trainSet)
	summary, perDoc := evaluate(cl, snap, ev, testSet)
	sb, err := json.Marshal(summary)
	if err != nil {
		return nil, []apiError{{Code: "InternalServerError", Message: err.Error()}}
	}
	expires := j.ConfigExpires
	if expires == "" {
		// A job saved by an older emulator.
		expires = modelExpiration(at)
	}
	return &model{
		Label: j.ModelLabel, ModelID: modelID(j.Project, j.ModelLabel, at, j.Seq), Trained: at,
		DurationSec: int(j.Duration.Seconds()), Expiration: expires, ConfigVersion: j.ConfigVersion,
		Snapshot: *snap, EvalOptions: ev, Classifier: cl, Summary: sb, DocEvaluations: perDoc,
	}, nil
}

// docReaders bounds the document reads of one training in flight: the
// real service's training job includes reading its documents, but the
// emulator reads them when the job ends, on the poll that sees it end, so
// read one by one from Blob storage (1-2 ms each) they would add their sum
// to every training's observed duration.
const docReaders = 16

// readDocuments reads every document of a training, docReaders at a time,
// and returns their texts and errors in the documents' order.
func (s *Server) readDocuments(ctx context.Context, container string, list []document) ([]string, []error) {
	texts, errs := make([]string, len(list)), make([]error, len(list))
	var wg sync.WaitGroup
	sem := make(chan struct{}, docReaders)
	for i, d := range list {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			texts[i], errs[i] = s.readDocument(ctx, container, d.Location)
		}()
	}
	wg.Wait()
	return texts, errs
}

func (s *Server) readDocument(ctx context.Context, container, name string) (string, error) {
	if s.docs == nil {
		return "", fmt.Errorf("no storage is connected to the emulator (start it with --docs-dir or --storage): %w", fs.ErrNotExist)
	}
	rc, err := s.docs.Open(ctx, container, name)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	if err != nil {
		return "", err
	}
	return string(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))), nil
}

func labelled(kind string, d document) bool {
	switch kind {
	case "CustomSingleLabelClassification":
		return d.Class != nil
	case "CustomMultiLabelClassification":
		return len(d.Classes) > 0
	}
	return true
}

// inTrainSplit: manual uses the item's dataset (default Train);
// percentage hashes key (a document's location, an utterance's text), so
// the split is the same on every resource and every run.
func inTrainSplit(ev evalOptions, dataset, key string) bool {
	if ev.Kind == "manual" {
		return dataset != "Test"
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32()%100) < ev.TrainingSplitPercentage
}

func categories(snap *snapshot) []string {
	var cats []category
	if snap.Meta.ProjectKind == "CustomEntityRecognition" {
		cats = snap.Assets.Entities
	} else {
		cats = snap.Assets.Classes
	}
	out := make([]string, 0, len(cats))
	for _, c := range cats {
		out = append(out, c.Category)
	}
	return out
}

func fit(kind string, classes []string, docs []trainDoc) *classifier {
	cl := &classifier{Kind: kind, Classes: classes, Docs: len(docs)}
	switch kind {
	case "CustomSingleLabelClassification":
		cl.NB = make([]nbClass, len(classes))
		for i := range cl.NB {
			cl.NB[i] = newNB()
		}
		for _, d := range docs {
			if i := indexOf(classes, d.doc.Class.Category); i >= 0 {
				cl.NB[i].add(tokenize(d.text))
			}
		}
	case "CustomMultiLabelClassification":
		cl.Bin = make([]binaryNB, len(classes))
		for i := range cl.Bin {
			cl.Bin[i] = binaryNB{Pos: newNB(), Neg: newNB()}
		}
		for _, d := range docs {
			tokens := tokenize(d.text)
			for i, c := range classes {
				if hasCategory(d.doc.Classes, c) {
					cl.Bin[i].Pos.add(tokens)
				} else {
					cl.Bin[i].Neg.add(tokens)
				}
			}
		}
	default:
		cl.Phrases = map[string]map[string]int{}
		for _, d := range docs {
			for _, rg := range d.doc.Entities {
				for _, l := range rg.Labels {
					txt, ok := utf16Slice(d.text, l.Offset, l.Length)
					if !ok {
						continue
					}
					ph := strings.ToLower(strings.TrimSpace(txt))
					if ph == "" {
						continue
					}
					if cl.Phrases[ph] == nil {
						cl.Phrases[ph] = map[string]int{}
					}
					cl.Phrases[ph][l.Category]++
				}
			}
		}
	}
	return cl
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

func hasCategory(cs []category, c string) bool {
	for _, x := range cs {
		if x.Category == c {
			return true
		}
	}
	return false
}

// ---- evaluation (docs/reference/language-rest.md#evaluation-and-other-small-types) ----

type metrics struct {
	F1                 float64 `json:"f1"`
	Precision          float64 `json:"precision"`
	Recall             float64 `json:"recall"`
	TruePositiveCount  int     `json:"truePositiveCount"`
	TrueNegativeCount  int     `json:"trueNegativeCount"`
	FalsePositiveCount int     `json:"falsePositiveCount"`
	FalseNegativeCount int     `json:"falseNegativeCount"`
}

func (m *metrics) compute() {
	m.Precision = ratio(m.TruePositiveCount, m.TruePositiveCount+m.FalsePositiveCount)
	m.Recall = ratio(m.TruePositiveCount, m.TruePositiveCount+m.FalseNegativeCount)
	if m.Precision+m.Recall > 0 {
		m.F1 = round4(2 * m.Precision * m.Recall / (m.Precision + m.Recall))
	}
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return round4(float64(a) / float64(b))
}

type cell struct {
	NormalizedValue float64 `json:"normalizedValue"`
	RawValue        float64 `json:"rawValue"`
}

type confusion map[string]map[string]*cell

func (c confusion) add(expected, predicted string) {
	if c[expected] == nil {
		c[expected] = map[string]*cell{}
	}
	if c[expected][predicted] == nil {
		c[expected][predicted] = &cell{}
	}
	c[expected][predicted].RawValue++
}

func (c confusion) normalize() {
	for _, row := range c {
		total := 0.0
		for _, v := range row {
			total += v.RawValue
		}
		for _, v := range row {
			v.NormalizedValue = round4(100 * v.RawValue / total)
		}
	}
}

type aggregate struct {
	MicroF1        float64 `json:"microF1"`
	MicroPrecision float64 `json:"microPrecision"`
	MicroRecall    float64 `json:"microRecall"`
	MacroF1        float64 `json:"macroF1"`
	MacroPrecision float64 `json:"macroPrecision"`
	MacroRecall    float64 `json:"macroRecall"`
}

func aggregateOf(per map[string]*metrics, names []string) aggregate {
	var sum metrics
	var a aggregate
	for _, n := range names {
		m := per[n]
		sum.TruePositiveCount += m.TruePositiveCount
		sum.FalsePositiveCount += m.FalsePositiveCount
		sum.FalseNegativeCount += m.FalseNegativeCount
		a.MacroF1 += m.F1
		a.MacroPrecision += m.Precision
		a.MacroRecall += m.Recall
	}
	sum.compute()
	a.MicroF1, a.MicroPrecision, a.MicroRecall = sum.F1, sum.Precision, sum.Recall
	if k := float64(len(names)); k > 0 {
		a.MacroF1, a.MacroPrecision, a.MacroRecall = round4(a.MacroF1/k), round4(a.MacroPrecision/k), round4(a.MacroRecall/k)
	}
	return a
}

type classEval struct {
	ConfusionMatrix confusion           `json:"confusionMatrix,omitempty"`
	Classes         map[string]*metrics `json:"classes,omitempty"`
	Entities        map[string]*metrics `json:"entities,omitempty"`
	Intents         map[string]*metrics `json:"intents,omitempty"`
	aggregate
}

type evaluationSummary struct {
	ProjectKind string       `json:"projectKind"`
	Single      *classEval   `json:"customSingleLabelClassificationEvaluation,omitempty"`
	Multi       *classEval   `json:"customMultiLabelClassificationEvaluation,omitempty"`
	NER         *classEval   `json:"customEntityRecognitionEvaluation,omitempty"`
	Options     *evalOptions `json:"evaluationOptions"`
}

type docEvaluation struct {
	Location    string `json:"location"`
	Language    string `json:"language"`
	ProjectKind string `json:"projectKind"`
	Single      *struct {
		ExpectedClass  string `json:"expectedClass"`
		PredictedClass string `json:"predictedClass"`
	} `json:"customSingleLabelClassificationResult,omitempty"`
	Multi *struct {
		ExpectedClasses  []string `json:"expectedClasses"`
		PredictedClasses []string `json:"predictedClasses"`
	} `json:"customMultiLabelClassificationResult,omitempty"`
	NER *struct {
		Entities []regionEval `json:"entities"`
	} `json:"customEntityRecognitionResult,omitempty"`
}

type regionEval struct {
	ExpectedEntities  []label `json:"expectedEntities"`
	PredictedEntities []label `json:"predictedEntities"`
	RegionOffset      int     `json:"regionOffset"`
	RegionLength      int     `json:"regionLength"`
}

func evaluate(cl *classifier, snap *snapshot, ev evalOptions, test []trainDoc) (evaluationSummary, []docEvaluation) {
	kind := snap.Meta.ProjectKind
	per := map[string]*metrics{}
	for _, c := range cl.Classes {
		per[c] = &metrics{}
	}
	cm := confusion{}
	var docs []docEvaluation
	for _, d := range test {
		lang := d.doc.Language
		if lang == "" {
			lang = snap.Meta.Language
		}
		de := docEvaluation{Location: d.doc.Location, Language: lang, ProjectKind: kind}
		switch kind {
		case "CustomSingleLabelClassification":
			exp := d.doc.Class.Category
			pred := ""
			if got := cl.classify(d.text); len(got) > 0 {
				pred = got[0].Category
			}
			countSingle(per, cm, cl.Classes, exp, pred)
			de.Single = &struct {
				ExpectedClass  string `json:"expectedClass"`
				PredictedClass string `json:"predictedClass"`
			}{exp, pred}
		case "CustomMultiLabelClassification":
			var exp, pred []string
			for _, c := range d.doc.Classes {
				exp = append(exp, c.Category)
			}
			for _, c := range cl.classify(d.text) {
				pred = append(pred, c.Category)
			}
			for _, c := range cl.Classes {
				m := per[c]
				e, p := indexOf(exp, c) >= 0, indexOf(pred, c) >= 0
				switch {
				case e && p:
					m.TruePositiveCount++
				case p:
					m.FalsePositiveCount++
				case e:
					m.FalseNegativeCount++
				default:
					m.TrueNegativeCount++
				}
			}
			de.Multi = &struct {
				ExpectedClasses  []string `json:"expectedClasses"`
				PredictedClasses []string `json:"predictedClasses"`
			}{nonNil(exp), nonNil(pred)}
		default:
			var exp []label
			for _, rg := range d.doc.Entities {
				exp = append(exp, rg.Labels...)
			}
			var pred []label
			for _, sp := range cl.recognize(d.text) {
				pred = append(pred, label{Category: sp.Category, Offset: sp.Offset, Length: sp.Length})
			}
			countEntities(per, cm, exp, pred)
			if exp == nil {
				exp = []label{}
			}
			if pred == nil {
				pred = []label{}
			}
			de.NER = &struct {
				Entities []regionEval `json:"entities"`
			}{[]regionEval{{ExpectedEntities: exp, PredictedEntities: pred, RegionOffset: 0, RegionLength: utf16Len([]rune(d.text))}}}
		}
		docs = append(docs, de)
	}
	ce := &classEval{aggregate: finishEval(per, cm)}
	opts := ev
	out := evaluationSummary{ProjectKind: kind, Options: &opts}
	switch kind {
	case "CustomSingleLabelClassification":
		ce.ConfusionMatrix, ce.Classes = cm, per
		out.Single = ce
	case "CustomMultiLabelClassification":
		ce.Classes = per
		out.Multi = ce
	default:
		ce.ConfusionMatrix, ce.Entities = cm, per
		out.NER = ce
	}
	if docs == nil {
		docs = []docEvaluation{}
	}
	return out, docs
}

// finishEval computes per's metrics and cm's normalized cells and returns
// their aggregate.
func finishEval(per map[string]*metrics, cm confusion) aggregate {
	for _, m := range per {
		m.compute()
	}
	cm.normalize()
	return aggregateOf(per, sortedKeys(per))
}

// countSingle scores one single-label prediction (a text class or a
// conversation intent) into per and cm.
func countSingle(per map[string]*metrics, cm confusion, classes []string, exp, pred string) {
	cm.add(exp, pred)
	for _, c := range classes {
		m := per[c]
		switch {
		case c == exp && c == pred:
			m.TruePositiveCount++
		case c == pred:
			m.FalsePositiveCount++
		case c == exp:
			m.FalseNegativeCount++
		default:
			m.TrueNegativeCount++
		}
	}
}

// countEntities scores predicted entity labels against the expected ones
// into per and cm: a prediction matches an expected label at the same
// offset and length; "$none" stands for no entity.
func countEntities(per map[string]*metrics, cm confusion, exp, pred []label) {
	matched := make([]bool, len(pred))
	for _, e := range exp {
		if per[e.Category] == nil {
			per[e.Category] = &metrics{}
		}
		hit := "$none"
		for i, p := range pred {
			if !matched[i] && p.Offset == e.Offset && p.Length == e.Length {
				matched[i] = true
				hit = p.Category
				break
			}
		}
		cm.add(e.Category, hit)
		if hit == e.Category {
			per[e.Category].TruePositiveCount++
		} else {
			per[e.Category].FalseNegativeCount++
			if hit != "$none" && per[hit] != nil {
				per[hit].FalsePositiveCount++
			}
		}
	}
	for i, p := range pred {
		if !matched[i] {
			cm.add("$none", p.Category)
			if per[p.Category] != nil {
				per[p.Category].FalsePositiveCount++
			}
		}
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
