// Package gen writes the sample datasets of package sample from templates and
// vocabulary with a fixed seed. The output is committed under
// shared/sample/data; a test in package sample checks that the committed
// files are exactly what this generator produces, so edits go here.
package gen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf16"
)

// Files returns every generated file, keyed by its slash path relative to the
// data directory (for example "tickets/docs/ticket001.txt").
func Files() (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, build := range []func(map[string][]byte) error{tickets, reviews, orders, travel} {
		if err := build(out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// rng is splitmix64: tiny, fully specified here, so the output never changes
// with the Go version.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

func (r *rng) pick(xs []string) string { return xs[r.intn(len(xs))] }

// fill replaces {slot} placeholders with random vocabulary.
func (r *rng) fill(s string) string {
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			return s
		}
		j := strings.IndexByte(s[i:], '}')
		slot := s[i+1 : i+j]
		words, ok := vocab[slot]
		if !ok {
			panic("gen: unknown slot " + slot)
		}
		s = s[:i] + r.fill(r.pick(words)) + s[i+j+1:]
	}
}

var vocab = map[string][]string{
	"amount":   {"$12.99", "$49.00", "$7.50", "$120.00", "€35", "£19.99", "$89.95", "$4.99", "$230.40", "€64.10"},
	"month":    {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
	"day":      {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "the 3rd", "the 14th", "the 21st", "last weekend", "yesterday"},
	"plan":     {"Basic", "Premium", "Family", "Business", "Pro", "Starter"},
	"card":     {"Visa", "Mastercard", "Amex", "debit"},
	"code":     {"SPRING20", "WELCOME10", "FREESHIP", "LOYAL15", "BLACKFRIDAY"},
	"order":    {"#48213", "#50917", "#33780", "#61502", "#27419", "#70385", "#45566", "#81234", "#19977", "#66120"},
	"service":  {"web portal", "mobile app", "dashboard", "checkout page", "customer portal", "reporting service", "login page", "API"},
	"time":     {"8 am", "this morning", "midnight", "about 2 pm", "an hour ago", "last night", "10:30 UTC"},
	"duration": {"two hours", "three days", "a week", "since yesterday", "45 minutes", "the whole afternoon", "five days"},
	"city":     {"Seattle", "Berlin", "Toronto", "Madrid", "Chicago", "Lyon", "Austin", "Dublin", "Osaka", "Denver"},
	"carrier":  {"UPS", "DHL", "FedEx", "the postal service", "your courier"},
	"product":  {"blender", "headset", "desk lamp", "coffee grinder", "backpack", "keyboard", "water bottle", "phone case", "monitor stand", "rain jacket"},
	"email":    {"jane.doe@example.com", "m.khan@example.org", "alex.w@example.net", "p.rossi@example.com"},
	"name":     {"Maria", "Tom", "Priya", "Lukas", "Chen", "Amara", "Jonas", "Sofia"},
	"cust":     {"C-10422", "C-88310", "C-20571", "C-67003", "C-45129"},
}

// Openers that end in a comma start a new line, as in an email.
var openers = []string{"", "", "", "Hi,\n", "Hello,\n", "Hello team,\n", "Hi support,\n", "Good morning.", "Hey there,\n", "Urgent:", "Dear support team,\n"}

var closers = []string{"", "", "", "Thanks.", "Thank you!", "Please help.", "Thanks in advance.", "Can someone look into this today?", "Regards, {name}", "This is really frustrating.", "Please advise.", "Cheers, {name}"}

type classTemplates struct {
	class  string
	core   []string
	detail []string
}

var ticketClasses = []classTemplates{
	{"Billing", []string{
		"I was charged twice for my {plan} subscription this month.",
		"My invoice for {month} shows {amount} but my plan only costs {amount}.",
		"Please refund the {amount} charge from {day}, I cancelled before the renewal date.",
		"The payment with my {card} card keeps getting declined even though the card is valid.",
		"Why did my bill go up to {amount} without any notice?",
		"I need a copy of the invoice for order {order} for my expense report.",
		"You billed me for the {plan} tier after I downgraded.",
		"There is a late fee of {amount} on my statement but I paid on time.",
		"Can you switch my billing from monthly to yearly and apply the discount?",
		"The promo code {code} was not applied and I was charged the full price.",
		"I see an unknown charge of {amount} from your company on my credit card.",
		"My direct debit failed and now the account shows an overdue balance of {amount}.",
		"I cancelled my {plan} plan in {month} but you are still charging me every month.",
		"The refund you promised for order {order} never reached my {card} card.",
		"Your invoice charges sales tax twice on the {plan} subscription.",
	}, []string{
		"My customer number is {cust}.",
		"I have attached a screenshot of the statement.",
		"The charge appeared on {day}.",
		"I would like the money back on the same card.",
		"Please correct the invoice and send me a new one.",
		"This is the second time the billing is wrong.",
	}},
	{"Outage", []string{
		"The {service} has been down since {time} and nothing loads.",
		"We get an error 503 every time we open the {service}.",
		"Your website is not loading for anyone in our {city} office.",
		"The {service} crashes right after the update from {time}.",
		"Is there an outage? The {service} has been timing out for {duration}.",
		"None of our users can reach the {service}, yet the status page says all systems are operational.",
		"Notification emails from your platform stopped arriving {time}.",
		"The API returns internal server errors for every request since {time}.",
		"Video calls keep dropping and the service is unreachable from {city}.",
		"Sync stopped working and your servers seem to be offline.",
		"The {service} shows a blank page and a gateway timeout.",
		"Your service is down again, the second outage this week.",
		"Pages take minutes to load and then fail with a connection error.",
		"Our whole team in {city} lost access to the {service} {time}.",
	}, []string{
		"We have {name} and the whole team blocked.",
		"Our customers are affected as well.",
		"Restarting the browser did not help.",
		"Other websites work fine on the same network.",
		"Please post an update on the status page.",
		"It worked normally {day}.",
	}},
	{"Account", []string{
		"I forgot my password and the reset email never arrives.",
		"Please change the email address on my account to {email}.",
		"My account is locked after too many login attempts.",
		"How do I delete my account and all my personal data?",
		"I can't sign in with two-factor authentication since I changed my phone.",
		"Please add {name} as a second user on our team account.",
		"Someone logged into my account from {city} and it was not me.",
		"I want to change my username but the profile settings page won't let me.",
		"The login page says my account does not exist although I registered {day}.",
		"Please merge my two accounts, one registered with {email}.",
		"The password reset link says it has expired every time I click it.",
		"I need to transfer account ownership from {name} to me.",
		"My profile shows the wrong name and I cannot edit it.",
		"How can I turn off two-factor authentication for {email}?",
	}, []string{
		"My username is the same as my email.",
		"I already checked the spam folder.",
		"Please verify my identity any way you need.",
		"I am the admin of our team account.",
		"I tried from two different browsers.",
		"My customer number is {cust}.",
	}},
	{"Shipping", []string{
		"My package for order {order} has not arrived yet, it was due on {day}.",
		"The tracking number from {carrier} shows no updates for {duration}.",
		"The parcel arrived damaged and the {product} inside is broken.",
		"I received the wrong item: I ordered a {product} but got something else.",
		"Can I change the delivery address for order {order} to {city}?",
		"The courier left my package at the wrong house.",
		"The delivery was marked as complete but I never got the box.",
		"How long does express shipping to {city} take?",
		"Part of my order {order} is missing, the {product} was not in the box.",
		"I'd like to return the {product} and get a prepaid shipping label.",
		"{carrier} says the parcel is stuck at the depot in {city}.",
		"My order {order} still says preparing for shipment after {duration}.",
		"Can you ship the {product} to a pickup point instead of my home?",
		"The box arrived open and the {product} was scratched.",
	}, []string{
		"The tracking page has not changed since {day}.",
		"I need it before the weekend.",
		"Nobody rang the doorbell.",
		"I paid for express delivery.",
		"Please send a replacement as soon as possible.",
		"The delivery address on the order is correct.",
	}},
}

type docJSON struct {
	Location string         `json:"location"`
	Language string         `json:"language"`
	Dataset  string         `json:"dataset"`
	Class    *category      `json:"class,omitempty"`
	Classes  []category     `json:"classes,omitempty"`
	Entities []entityRegion `json:"entities,omitempty"`
}

// projectJSON and friends keep the field order of the spec's examples.
type projectJSON struct {
	ProjectFileVersion string       `json:"projectFileVersion"`
	StringIndexType    string       `json:"stringIndexType"`
	Metadata           metadataJSON `json:"metadata"`
	Assets             assetsJSON   `json:"assets"`
}

type metadataJSON struct {
	ProjectKind               string   `json:"projectKind"`
	StorageInputContainerName string   `json:"storageInputContainerName"`
	Settings                  struct{} `json:"settings"`
	ProjectName               string   `json:"projectName"`
	Multilingual              bool     `json:"multilingual"`
	Description               string   `json:"description"`
	Language                  string   `json:"language"`
}

type assetsJSON struct {
	ProjectKind string     `json:"projectKind"`
	Classes     []category `json:"classes,omitempty"`
	Entities    []category `json:"entities,omitempty"`
	Documents   []docJSON  `json:"documents"`
}

type category struct {
	Category string `json:"category"`
}

type entityRegion struct {
	RegionOffset int     `json:"regionOffset"`
	RegionLength int     `json:"regionLength"`
	Labels       []label `json:"labels"`
}

type label struct {
	Category string `json:"category"`
	Offset   int    `json:"offset"`
	Length   int    `json:"length"`
}

type probe struct {
	Text string   `json:"text"`
	Want []string `json:"want"`
}

// project renders the exported project JSON in the shape of
// docs/reference/language-rest.md#exported-project-json.
func project(name, kind, container, description string, classKey string, classes []string, docs []docJSON) ([]byte, error) {
	cats := make([]category, len(classes))
	for i, c := range classes {
		cats[i] = category{c}
	}
	assets := assetsJSON{ProjectKind: kind, Documents: docs}
	if classKey == "entities" {
		assets.Entities = cats
	} else {
		assets.Classes = cats
	}
	return marshal(projectJSON{
		ProjectFileVersion: "2022-05-01",
		StringIndexType:    "Utf16CodeUnit",
		Metadata: metadataJSON{
			ProjectKind:               kind,
			StorageInputContainerName: container,
			Settings:                  struct{}{},
			ProjectName:               name,
			Multilingual:              false,
			Description:               description,
			Language:                  "en-us",
		},
		Assets: assets,
	})
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("gen: encoding json: %w", err)
	}
	return buf.Bytes(), nil
}

// sentence joins non-empty parts with spaces.
func sentence(parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.ReplaceAll(strings.Join(keep, " "), "\n ", "\n")
}

// dataset puts every fifth document of a class into Test (20%).
func dataset(i int) string {
	if i%5 == 4 {
		return "Test"
	}
	return "Train"
}

func tickets(out map[string][]byte) error {
	r := &rng{s: 20261201}
	const perClass = 50
	seen := map[string]bool{}
	var docs []docJSON
	var classes []string
	n := 0
	for _, ct := range ticketClasses {
		classes = append(classes, ct.class)
	}
	// Interleave classes so that document numbers do not give the class away.
	texts := make([][]string, len(ticketClasses))
	for ci, ct := range ticketClasses {
		for len(texts[ci]) < perClass {
			core := r.fill(r.pick(ct.core))
			detail := ""
			if r.intn(3) > 0 {
				detail = r.fill(r.pick(ct.detail))
			}
			t := sentence(r.pick(openers), core, detail, r.fill(r.pick(closers)))
			if seen[t] {
				continue
			}
			seen[t] = true
			texts[ci] = append(texts[ci], t)
		}
	}
	for i := 0; i < perClass; i++ {
		for ci, ct := range ticketClasses {
			n++
			loc := fmt.Sprintf("ticket%03d.txt", n)
			out["tickets/docs/"+loc] = []byte(texts[ci][i] + "\n")
			docs = append(docs, docJSON{Location: loc, Language: "en-us", Dataset: dataset(i), Class: &category{ct.class}})
		}
	}
	js, err := project("Tickets", "CustomSingleLabelClassification", "tickets",
		"Customer support tickets routed to one of four queues (langsync sample).", "classes", classes, docs)
	if err != nil {
		return err
	}
	out["tickets/project.json"] = js
	probes, err := marshal([]probe{
		{"I was charged twice this month", []string{"Billing"}},
		{"The website is down again", []string{"Outage"}},
		{"I can't log in, the password reset link does not work", []string{"Account"}},
		{"My parcel still hasn't been delivered and the tracking has not moved", []string{"Shipping"}},
		{"Please refund the duplicate payment on my credit card", []string{"Billing"}},
	})
	if err != nil {
		return err
	}
	out["tickets/probes.json"] = probes
	return nil
}

var reviewAspects = []struct {
	class string
	lines []string
}{
	{"Quality", []string{
		"The {product} feels solid and well made, great quality.",
		"The stitching on the {product} came apart after a week, poor quality.",
		"Build quality is excellent, much better than my old {product}.",
		"The {product} broke after two days of normal use.",
		"Cheap materials, the {product} already has a crack.",
		"Quality is good, it works exactly as described and feels durable.",
		"The {product} is flimsy and broke the first time I used it.",
	}},
	{"Price", []string{
		"For {amount} the price is a real bargain.",
		"Way too expensive for what you get, {amount} is a rip-off.",
		"The price dropped to {amount} a day after I paid for it.",
		"Good value for money compared with other brands.",
		"I would not pay {amount} for this again, overpriced.",
		"Cheaper than in the shops and the discount made the price even better.",
		"Fair price, worth every cent of the {amount} I paid.",
	}},
	{"Delivery", []string{
		"Delivery was a day early with {carrier}.",
		"Shipping took {duration} and the box arrived crushed.",
		"Delivery was fast and the parcel was packed well.",
		"The courier lost the parcel and delivery came {duration} late.",
		"Tracking updates were clear and the package arrived at my door in {city}.",
		"The parcel was left in the rain on my porch by {carrier}.",
		"Shipping was quick and it arrived well packed.",
	}},
	{"Support", []string{
		"Customer support answered my question within an hour.",
		"Support never replied to my three emails.",
		"{name} from customer service sorted out my problem quickly.",
		"The support agent in the chat was rude and closed the conversation.",
		"Their support team replaced the faulty part for free.",
		"I waited {duration} on the support hotline without an answer.",
		"Customer service was helpful and friendly when I called.",
	}},
}

func reviews(out map[string][]byte) error {
	r := &rng{s: 89}
	const n = 40
	var classes []string
	for _, a := range reviewAspects {
		classes = append(classes, a.class)
	}
	seen := map[string]bool{}
	var docs []docJSON
	for i := 0; i < n; {
		// One to three aspects; the first follows i so every class is well represented.
		k := 1 + r.intn(3)
		if k == 3 && r.intn(2) == 0 {
			k = 2
		}
		first := i % len(reviewAspects)
		idx := []int{first}
		for len(idx) < k {
			j := r.intn(len(reviewAspects))
			dup := false
			for _, x := range idx {
				dup = dup || x == j
			}
			if !dup {
				idx = append(idx, j)
			}
		}
		var parts []string
		var cats []category
		for ci := range reviewAspects {
			for _, x := range idx {
				if x == ci {
					cats = append(cats, category{reviewAspects[ci].class})
				}
			}
		}
		for _, x := range idx {
			parts = append(parts, r.fill(r.pick(reviewAspects[x].lines)))
		}
		t := sentence(parts...)
		if seen[t] {
			continue
		}
		seen[t] = true
		loc := fmt.Sprintf("review%02d.txt", i+1)
		out["reviews/docs/"+loc] = []byte(t + "\n")
		docs = append(docs, docJSON{Location: loc, Language: "en-us", Dataset: dataset(i), Classes: cats})
		i++
	}
	js, err := project("Reviews", "CustomMultiLabelClassification", "reviews",
		"Product reviews tagged with every aspect they talk about (langsync sample).", "classes", classes, docs)
	if err != nil {
		return err
	}
	out["reviews/project.json"] = js
	probes, err := marshal([]probe{
		{"Fair price and good value for money, but shipping took two weeks.", []string{"Price", "Delivery"}},
		{"Poor quality, it broke after a week, and support never replied to my emails.", []string{"Quality", "Support"}},
		{"Delivery was fast and the package arrived well packed.", []string{"Delivery"}},
	})
	if err != nil {
		return err
	}
	out["reviews/probes.json"] = probes
	return nil
}

// Entity vocabulary for the NER sample; cities and products carry non-ASCII
// characters (and one emoji outside the BMP) so that UTF-16 offsets differ
// from byte and rune offsets.
var (
	nerOrders   = []string{"A-10293", "B-55820", "A-77314", "C-20981", "B-31045", "A-66002", "C-90417", "B-12876"}
	nerDates    = []string{"3 March 2026", "12 April 2026", "May 5", "June 21, 2026", "1 July", "2026-08-15", "next Friday", "30 September"}
	nerCities   = []string{"Zürich", "São Paulo", "Kraków", "Malmö", "Montréal", "Seattle", "Lyon", "Düsseldorf"}
	nerProducts = []string{"espresso machine", "trail shoes", "Bluetooth speaker", "office chair", "café table", "ski goggles"}
	nerPrefixes = []string{"", "", "📦 ", "Re: ", "Hello — ", "Hi, "}
)

type seg struct {
	text, cat string
}

var nerTemplates = [][]seg{
	{{"Order ", ""}, {"{O}", "OrderNumber"}, {" was supposed to reach ", ""}, {"{C}", "City"}, {" on ", ""}, {"{D}", "Date"}, {" but it is still missing.", ""}},
	{{"Please deliver the ", ""}, {"{P}", "Product"}, {" from order ", ""}, {"{O}", "OrderNumber"}, {" to our office in ", ""}, {"{C}", "City"}, {".", ""}},
	{{"I ordered the ", ""}, {"{P}", "Product"}, {" on ", ""}, {"{D}", "Date"}, {" and received the wrong colour.", ""}},
	{{"Can order ", ""}, {"{O}", "OrderNumber"}, {" be shipped before ", ""}, {"{D}", "Date"}, {"? I am moving to ", ""}, {"{C}", "City"}, {".", ""}},
	{{"The ", ""}, {"{P}", "Product"}, {" in order ", ""}, {"{O}", "OrderNumber"}, {" arrived broken.", ""}},
	{{"We are collecting the ", ""}, {"{P}", "Product"}, {" at the ", ""}, {"{C}", "City"}, {" pickup point on ", ""}, {"{D}", "Date"}, {".", ""}},
}

func orders(out map[string][]byte) error {
	r := &rng{s: 777}
	const n = 30
	seen := map[string]bool{}
	var docs []docJSON
	for i := 0; i < n; {
		tmpl := nerTemplates[(i+r.intn(2))%len(nerTemplates)]
		var b strings.Builder
		var labels []label
		off := 0
		add := func(s string) {
			b.WriteString(s)
			off += len(utf16.Encode([]rune(s)))
		}
		add(r.pick(nerPrefixes))
		for _, s := range tmpl {
			text := s.text
			switch text {
			case "{O}":
				text = r.pick(nerOrders)
			case "{C}":
				text = r.pick(nerCities)
			case "{D}":
				text = r.pick(nerDates)
			case "{P}":
				text = r.pick(nerProducts)
			}
			start := off
			add(text)
			if s.cat != "" {
				labels = append(labels, label{s.cat, start, off - start})
			}
		}
		t := b.String()
		if seen[t] {
			continue
		}
		seen[t] = true
		loc := fmt.Sprintf("order%02d.txt", i+1)
		out["orders/docs/"+loc] = []byte(t)
		docs = append(docs, docJSON{Location: loc, Language: "en-us", Dataset: dataset(i),
			Entities: []entityRegion{{RegionOffset: 0, RegionLength: off, Labels: labels}}})
		i++
	}
	js, err := project("Orders", "CustomEntityRecognition", "orders",
		"Order messages labelled with order numbers, dates, cities and products (langsync sample).", "entities",
		[]string{"OrderNumber", "Date", "City", "Product"}, docs)
	if err != nil {
		return err
	}
	out["orders/project.json"] = js
	probes, err := marshal([]probe{
		{"Order B-55820 should arrive in Zürich on 12 April 2026.", []string{"OrderNumber", "City", "Date"}},
		{"The office chair from order A-10293 is damaged.", []string{"Product", "OrderNumber"}},
	})
	if err != nil {
		return err
	}
	out["orders/probes.json"] = probes
	return nil
}
