package emulator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// jobLifetime is how long a job's status stays readable
// (docs/reference/language-rest.md#job-state-body: examples always expire 7
// days after creation).
const jobLifetime = 7 * 24 * time.Hour

// job is one authoring long-running operation. Its state before completion
// is computed from the clock; at completion its effects are applied once.
type job struct {
	ID         string        `json:"id"`
	Kind       string        `json:"kind"`
	Project    string        `json:"project"`
	Path       string        `json:"path"` // the status path, /language/...
	APIVersion string        `json:"apiVersion"`
	Created    time.Time     `json:"created"`
	Duration   time.Duration `json:"duration"`
	Seq        int64         `json:"seq"`
	InjectFail bool          `json:"injectFail,omitempty"`
	// AnswerLost: the 202 that started the job was never sent (the
	// LoseAccepted fault); the job runs as any other.
	AnswerLost bool `json:"answerLost,omitempty"`

	// Reads counts reads of the job's status (Options.MinStatusReads);
	// ReadAt is the last one.
	Reads  int       `json:"reads,omitempty"`
	ReadAt time.Time `json:"readAt,omitzero"`

	Done     bool       `json:"done,omitempty"`
	Status   string     `json:"status,omitempty"`
	Finished time.Time  `json:"finished,omitzero"`
	Errors   []apiError `json:"errors,omitempty"`

	// export, train: the project as it was when the job was submitted.
	Snapshot     *snapshot       `json:"snapshot,omitempty"`
	ExportResult json.RawMessage `json:"exportResult,omitempty"`
	// import: the parsed body and problems found on submission.
	Import    *snapshot  `json:"import,omitempty"`
	PreErrors []apiError `json:"preErrors,omitempty"`
	// train
	ModelLabel    string `json:"modelLabel,omitempty"`
	ConfigVersion string `json:"configVersion,omitempty"`
	// ConfigExpires is the version's expiration date, the model's.
	ConfigExpires string       `json:"configExpires,omitempty"`
	EvalOptions   *evalOptions `json:"evalOptions,omitempty"`
	CancelJob     string       `json:"cancelJob,omitempty"`
	// cancelTrain: the training job cancelled.
	Target string `json:"target,omitempty"`
	// deploy, deleteDeployment, swap
	Deployment string    `json:"deployment,omitempty"`
	Swap       [2]string `json:"swap,omitzero"`
	// Conv marks a job of a conversation project (conversations.go); its
	// project snapshot is ConvSnapshot.
	Conv         bool          `json:"conv,omitempty"`
	ConvSnapshot *convSnapshot `json:"convSnapshot,omitempty"`
	TrainingMode string        `json:"trainingMode,omitempty"`
}

func (j *job) end() time.Time { return j.Created.Add(j.Duration) }

// startJob registers a job and answers 202 with its operation-location.
func (s *Server) startJob(c *call, j *job) error {
	s.st.Seq++
	j.Seq = s.st.Seq
	j.Created = c.now
	j.APIVersion = c.version
	if d, ok := s.durations[j.Kind]; ok {
		j.Duration = d
	}
	if s.faults.JobFailureRatio > 0 && s.rng.Float64() < s.faults.JobFailureRatio {
		j.InjectFail = true
	}
	s.st.Jobs[j.ID] = j
	s.dirty = true
	if s.loseAnswer(j.Kind) {
		// The job is started and saved, but the client never learns its
		// operation-location: ServeHTTP closes the connection unanswered.
		j.AnswerLost = true
		s.lost = true
		s.log.Info("job accepted, answer lost (injected)", "kind", j.Kind, "project", j.Project, "job", j.ID)
		return nil
	}
	setRaw(c.w.Header(), "operation-location", c.base+j.Path+"?api-version="+c.version)
	c.w.WriteHeader(202)
	return nil
}

// tick completes every job whose end is not after now, in end order, then
// forgets expired jobs. Called under s.mu before each operation.
func (s *Server) tick(ctx context.Context, now time.Time) {
	for {
		var next *job
		for _, j := range s.st.Jobs {
			if j.Done || j.end().After(now) || j.Reads < s.opts.MinStatusReads {
				continue
			}
			if next == nil || j.end().Before(next.end()) || (j.end().Equal(next.end()) && j.Seq < next.Seq) {
				next = j
			}
		}
		if next == nil {
			break
		}
		at := next.end()
		if next.ReadAt.After(at) {
			// Held by MinStatusReads: it ended after it was last seen running.
			at = next.ReadAt
		}
		s.complete(ctx, next, at)
		s.dirty = true
		attrs := []any{"kind", next.Kind, "project", next.Project, "job", next.ID, "status", next.Status}
		if len(next.Errors) > 0 {
			attrs = append(attrs, "error", next.Errors[0].Message)
		}
		s.log.Info("job ended", attrs...)
	}
	for id, j := range s.st.Jobs {
		if j.Done && !now.Before(j.Created.Add(jobLifetime)) {
			delete(s.st.Jobs, id)
			s.dirty = true
		}
	}
	for id, j := range s.st.RuntimeJobs {
		if !now.Before(j.Created.Add(runtimeJobLifetime)) {
			delete(s.st.RuntimeJobs, id)
			s.dirty = true
		}
	}
}

func (j *job) finish(at time.Time, status string, errs ...apiError) {
	j.Done, j.Status, j.Finished, j.Errors = true, status, at, errs
}

// complete applies a job's effects at time at.
func (s *Server) complete(ctx context.Context, j *job, at time.Time) {
	if j.InjectFail {
		j.finish(at, "failed", apiError{Code: "InternalServerError", Message: "The job failed because of an internal error (injected by the emulator)."})
		return
	}
	if len(j.PreErrors) > 0 {
		j.finish(at, "failed", j.PreErrors...)
		return
	}
	if j.Kind == KindCancelTrain {
		// The same for either family: the training job ends cancelled.
		if t := s.st.Jobs[j.Target]; t != nil && !t.Done {
			t.finish(at, "cancelled")
		}
		j.finish(at, "succeeded")
		return
	}
	if j.Conv {
		s.completeConv(j, at)
		return
	}
	p := s.st.Projects[j.Project]
	if p == nil && j.Kind != KindImport && j.Kind != KindDeleteProject && j.Kind != KindExport {
		j.finish(at, "failed", apiError{Code: "ProjectNotFound", Message: "The specified project was not found.", Target: j.Project})
		return
	}
	switch j.Kind {
	case KindDeleteProject:
		delete(s.st.Projects, j.Project)
		s.forgetProjectJobs(j)
	case KindExport:
		b, err := json.Marshal(exportDocument(j.APIVersion, j.Snapshot))
		if err != nil {
			j.finish(at, "failed", apiError{Code: "InternalServerError", Message: err.Error()})
			return
		}
		j.ExportResult = b
	case KindImport:
		if errs := s.checkImportStorage(ctx, j.Import); len(errs) > 0 {
			j.finish(at, "failed", errs...)
			return
		}
		if p == nil {
			p = &project{Created: at, Models: map[string]*model{}, Deployments: map[string]*deployment{}}
			s.st.Projects[j.Project] = p
		}
		p.Meta = j.Import.Meta
		p.Assets = j.Import.Assets
		p.Modified = at
	case KindTrain:
		m, errs := s.train(ctx, j, at)
		if len(errs) > 0 {
			j.finish(at, "failed", errs...)
			return
		}
		p.Models[m.Label] = m
		t := at
		p.Trained = &t
	case KindDeploy:
		m := modelOrFail(j, at, p.Models)
		if m == nil {
			return
		}
		p.Deployments[j.Deployment] = &deployment{
			Name: j.Deployment, ModelID: m.ModelID, ModelLabel: m.Label, Trained: m.Trained, Deployed: at,
			Expiration: deploymentExpiration(m), ConfigVersion: m.ConfigVersion, Classifier: m.Classifier,
		}
		t := at
		p.Deployed = &t
	case KindDeleteDeployment:
		delete(p.Deployments, j.Deployment)
	case KindSwap:
		if !swapIn(j, at, p.Deployments, func(d *deployment, n string) { d.Name = n }) {
			return
		}
	case KindLoadSnapshot:
		m := modelOrFail(j, at, p.Models)
		if m == nil {
			return
		}
		p.Assets = m.Snapshot.Assets
		p.Modified = at
	}
	j.finish(at, "succeeded")
}

// forgetProjectJobs removes the jobs of the project del deletes, as the
// service does: its training, export, import, deployment, swap and
// load-snapshot jobs (finished or not, with their results) go with it, so
// that a project re-created under the same name starts without history.
// The deletion job itself stays readable under projects/global, and jobs
// sent after the deletion was requested (a re-import, say) are kept.
func (s *Server) forgetProjectJobs(del *job) {
	for id, o := range s.st.Jobs {
		if o != del && o.Conv == del.Conv && o.Project == del.Project && o.Seq < del.Seq && o.Kind != KindDeleteProject {
			delete(s.st.Jobs, id)
		}
	}
}

// deploymentExpiration follows the examples: a deployment expires one year
// after its model's expiration date.
func deploymentExpiration(m *model) string {
	t, err := time.Parse(time.DateOnly, m.Expiration)
	if err != nil {
		return m.Expiration
	}
	return t.AddDate(1, 0, 0).Format(time.DateOnly)
}

// modelID is shaped like the service's: <label>-<time, 12-hour clock>-<32 hex>.
func modelID(project, label string, at time.Time, seq int64) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s\x00%d", project, label, at.Format(time.RFC3339Nano), seq))
	return label + "-" + at.UTC().Format("20060102T030405") + "-" + hex.EncodeToString(sum[:16])
}

// Wire shapes of job states (docs/reference/language-rest.md#job-state-body,
// docs/reference/language-rest.md#trainingjobstate).
type jobState struct {
	Result              *trainResult `json:"result,omitempty"`
	ResultURL           string       `json:"resultUrl,omitempty"`
	JobID               string       `json:"jobId"`
	CreatedDateTime     string       `json:"createdDateTime"`
	LastUpdatedDateTime string       `json:"lastUpdatedDateTime"`
	ExpirationDateTime  string       `json:"expirationDateTime"`
	Status              string       `json:"status"`
	Warnings            []apiError   `json:"warnings,omitempty"`
	Errors              []apiError   `json:"errors,omitempty"`
}

type trainResult struct {
	ModelLabel            string     `json:"modelLabel"`
	TrainingConfigVersion string     `json:"trainingConfigVersion"`
	TrainingMode          string     `json:"trainingMode,omitempty"`
	EstimatedEndDateTime  string     `json:"estimatedEndDateTime,omitempty"`
	TrainingStatus        *subStatus `json:"trainingStatus"`
	EvaluationStatus      *subStatus `json:"evaluationStatus,omitempty"`
}

type subStatus struct {
	PercentComplete int    `json:"percentComplete"`
	StartDateTime   string `json:"startDateTime,omitempty"`
	EndDateTime     string `json:"endDateTime,omitempty"`
	Status          string `json:"status"`
}

const (
	secondsFormat  = "2006-01-02T15:04:05Z07:00"
	fractionFormat = "2006-01-02T15:04:05.0000000Z07:00"
)

func ts(t time.Time) string  { return t.UTC().Format(secondsFormat) }
func tsf(t time.Time) string { return t.UTC().Format(fractionFormat) }

// status returns a job's status and last-update time at now.
func (s *Server) status(j *job, now time.Time) (string, time.Time) {
	if j.Done {
		return j.Status, j.Finished
	}
	start := j.Created.Add(j.Duration / 10)
	if j.CancelJob != "" {
		if cj := s.st.Jobs[j.CancelJob]; cj != nil {
			return "cancelling", cj.Created
		}
	}
	if now.Before(start) {
		return "notStarted", j.Created
	}
	return "running", now
}

func (s *Server) renderJob(c *call, j *job) jobState {
	st, upd := s.status(j, c.now)
	out := jobState{
		JobID: j.ID, CreatedDateTime: ts(j.Created), LastUpdatedDateTime: ts(upd),
		ExpirationDateTime: ts(j.Created.Add(jobLifetime)), Status: st, Errors: j.Errors,
	}
	switch j.Kind {
	case KindExport:
		if st == "succeeded" {
			prefix := projectsPath
			if j.Conv {
				prefix = convProjectsPath
			}
			out.ResultURL = c.base + prefix + "/" + j.Project + "/export/jobs/" + j.ID + "/result?api-version=" + j.APIVersion
		}
	case KindTrain:
		out.Result = s.trainProgress(j, c.now)
		out.Result.TrainingMode = j.TrainingMode
	case KindCancelTrain:
		if t := s.st.Jobs[j.Target]; t != nil {
			out.Result = s.trainProgress(t, c.now)
			out.Result.TrainingMode = t.TrainingMode
		} else {
			out.Result = &trainResult{TrainingStatus: &subStatus{Status: "cancelled"}}
		}
	}
	return out
}

// trainProgress renders TrainingJobState.result: training runs over 10%..80%
// of the job's duration and evaluation over 80%..100%.
func (s *Server) trainProgress(j *job, now time.Time) *trainResult {
	r := &trainResult{ModelLabel: j.ModelLabel, TrainingConfigVersion: j.ConfigVersion}
	d := j.Duration
	tStart, eStart, end := j.Created.Add(d/10), j.Created.Add(d*8/10), j.end()
	if j.Done {
		end = j.Finished
		if eStart.After(end) {
			eStart = end
		}
		if tStart.After(end) {
			tStart = end
		}
	}
	pct := func(from, to time.Time) int {
		if !to.After(from) {
			return 100
		}
		p := int(100 * now.Sub(from) / to.Sub(from))
		return min(max(p, 0), 99)
	}
	switch {
	case j.Done && j.Status == "succeeded":
		r.TrainingStatus = &subStatus{PercentComplete: 100, StartDateTime: tsf(tStart), EndDateTime: tsf(eStart), Status: "succeeded"}
		r.EvaluationStatus = &subStatus{PercentComplete: 100, StartDateTime: tsf(eStart), EndDateTime: tsf(end), Status: "succeeded"}
	case j.Done:
		r.TrainingStatus = &subStatus{PercentComplete: pctAt(tStart, eStart, end), StartDateTime: tsf(tStart), EndDateTime: tsf(end), Status: j.Status}
		r.EvaluationStatus = &subStatus{Status: "notStarted"}
		if end.After(eStart) {
			r.TrainingStatus = &subStatus{PercentComplete: 100, StartDateTime: tsf(tStart), EndDateTime: tsf(eStart), Status: "succeeded"}
			r.EvaluationStatus = &subStatus{PercentComplete: pctAt(eStart, j.end(), end), StartDateTime: tsf(eStart), EndDateTime: tsf(end), Status: j.Status}
		}
	case now.Before(tStart):
		r.EstimatedEndDateTime = tsf(end)
		r.TrainingStatus = &subStatus{Status: "notStarted"}
		r.EvaluationStatus = &subStatus{Status: "notStarted"}
	case now.Before(eStart):
		r.EstimatedEndDateTime = tsf(end)
		r.TrainingStatus = &subStatus{PercentComplete: pct(tStart, eStart), StartDateTime: tsf(tStart), Status: "running"}
		r.EvaluationStatus = &subStatus{Status: "notStarted"}
	default:
		r.EstimatedEndDateTime = tsf(end)
		r.TrainingStatus = &subStatus{PercentComplete: 100, StartDateTime: tsf(tStart), EndDateTime: tsf(eStart), Status: "succeeded"}
		r.EvaluationStatus = &subStatus{PercentComplete: pct(eStart, end), StartDateTime: tsf(eStart), Status: "running"}
	}
	return r
}

func pctAt(from, to, at time.Time) int {
	if !to.After(from) {
		return 100
	}
	return min(max(int(100*at.Sub(from)/to.Sub(from)), 0), 100)
}

// projectJobs returns a project's jobs of one kind, oldest first; conv
// tells the namespace (a text and a conversation project may share a
// name).
func (s *Server) projectJobs(conv bool, project, kind string) []*job {
	var out []*job
	for _, j := range s.st.Jobs {
		if j.Conv == conv && j.Project == project && j.Kind == kind {
			out = append(out, j)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Seq < out[b].Seq })
	return out
}

// JobInfo is one authoring job as GET /emulator/jobs lists it: what the
// service side knows, so that a test or a soak harness can count jobs per
// project and kind without trusting the client's own records.
type JobInfo struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	Project    string `json:"project"`
	ModelLabel string `json:"modelLabel,omitempty"`
	Deployment string `json:"deployment,omitempty"`
	// Status is the job's status now (notStarted, running, succeeded, ...).
	Status   string    `json:"status"`
	Created  time.Time `json:"created"`
	Duration Duration  `json:"duration"`
	// Ended is when the job ended (zero while it runs).
	Ended time.Time `json:"ended,omitzero"`
	// AnswerLost: the 202 that started it was lost (LoseAccepted fault).
	AnswerLost bool `json:"answerLost,omitempty"`
	// InjectedFailure: the JobFailureRatio fault made it fail.
	InjectedFailure bool `json:"injectedFailure,omitempty"`
}

// Jobs lists the resource's authoring jobs, oldest first, optionally only
// those of one project and/or kind (empty matches all). Jobs are forgotten
// 7 days after creation, as on the service.
func (s *Server) Jobs(project, kind string) []JobInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	// Bring lazily evaluated jobs up to date, as any request would.
	s.tick(context.Background(), now)
	if s.dirty {
		if err := s.save(); err != nil {
			s.log.Error("emulator: saving state", "err", err)
		}
		s.dirty = false
	}
	var list []*job
	for _, j := range s.st.Jobs {
		if (project == "" || j.Project == project) && (kind == "" || j.Kind == kind) {
			list = append(list, j)
		}
	}
	sort.Slice(list, func(a, b int) bool { return list[a].Seq < list[b].Seq })
	out := make([]JobInfo, 0, len(list))
	for _, j := range list {
		st, _ := s.status(j, now)
		info := JobInfo{ID: j.ID, Kind: j.Kind, Project: j.Project, ModelLabel: j.ModelLabel, Deployment: j.Deployment,
			Status: st, Created: j.Created, Duration: Duration(j.Duration), AnswerLost: j.AnswerLost, InjectedFailure: j.InjectFail}
		if j.Done {
			info.Ended = j.Finished
		}
		out = append(out, info)
	}
	return out
}
