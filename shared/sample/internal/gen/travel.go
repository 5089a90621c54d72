package gen

import (
	"strings"
	"unicode/utf16"
)

// The conversation samples: "Travel", a CLU project of a travel bot (its
// utterances live in the project file: no documents), and "TravelRouter",
// an orchestration project that routes booking questions to Travel and
// baggage questions to a question answering project.

type convProjectJSON struct {
	ProjectFileVersion string           `json:"projectFileVersion"`
	StringIndexType    string           `json:"stringIndexType"`
	Metadata           convMetadataJSON `json:"metadata"`
	Assets             convAssetsJSON   `json:"assets"`
}

type convMetadataJSON struct {
	ProjectKind  string   `json:"projectKind"`
	Settings     struct{} `json:"settings"`
	ProjectName  string   `json:"projectName"`
	Multilingual bool     `json:"multilingual"`
	Description  string   `json:"description"`
	Language     string   `json:"language"`
}

type convAssetsJSON struct {
	ProjectKind string          `json:"projectKind"`
	Intents     []intentJSON    `json:"intents"`
	Entities    []any           `json:"entities,omitempty"`
	Utterances  []utteranceJSON `json:"utterances"`
}

type intentJSON struct {
	Category      string `json:"category"`
	Orchestration any    `json:"orchestration,omitempty"`
}

type utteranceJSON struct {
	Text     string      `json:"text"`
	Language string      `json:"language"`
	Dataset  string      `json:"dataset"`
	Intent   string      `json:"intent"`
	Entities []labelJSON `json:"entities"`
}

type labelJSON struct {
	Category string `json:"category"`
	Offset   int    `json:"offset"`
	Length   int    `json:"length"`
}

var travelCities = []string{"Paris", "London", "Berlin", "Madrid", "Rome", "Vienna", "Lisbon", "Dublin"}

var travelIntents = []struct {
	intent    string
	templates []string
}{
	{"BookFlight", []string{
		"book a flight to {city}",
		"I need a plane ticket to {city} for {n} people",
		"find me a flight from {city} to {city2}",
		"can you book {n} seats to {city} next friday",
		"I want to fly to {city} tomorrow",
	}},
	{"CancelBooking", []string{
		"cancel my booking {ref}",
		"please cancel the reservation {ref}",
		"I want to cancel my flight to {city}",
		"drop booking {ref} and refund me",
	}},
	{"FlightStatus", []string{
		"is my flight {ref} on time",
		"what is the status of flight {ref}",
		"has the plane to {city} been delayed",
		"when does my flight from {city} land",
	}},
}

// fillTravel replaces the placeholders and labels what it put in.
func fillTravel(t string, i int) (string, []labelJSON) {
	var labels []labelJSON
	var sb strings.Builder
	for {
		open := strings.IndexByte(t, '{')
		if open < 0 {
			sb.WriteString(t)
			break
		}
		end := strings.IndexByte(t[open:], '}') + open
		sb.WriteString(t[:open])
		var val, cat string
		switch t[open+1 : end] {
		case "city":
			val, cat = travelCities[i%len(travelCities)], "City"
		case "city2":
			val, cat = travelCities[(i+3)%len(travelCities)], "City"
		case "n":
			val = []string{"2", "3", "4"}[i%3]
		case "ref":
			val, cat = []string{"AB1234", "QX7781", "LH4402", "ZZ0042"}[i%4], "BookingRef"
		}
		if cat != "" {
			off := len(utf16.Encode([]rune(sb.String())))
			labels = append(labels, labelJSON{Category: cat, Offset: off, Length: len(utf16.Encode([]rune(val)))})
		}
		sb.WriteString(val)
		t = t[end+1:]
	}
	if labels == nil {
		labels = []labelJSON{}
	}
	return sb.String(), labels
}

func travel(out map[string][]byte) error {
	var utts []utteranceJSON
	intents := []intentJSON{{Category: "None"}}
	for _, it := range travelIntents {
		intents = append(intents, intentJSON{Category: it.intent})
		for i := 0; i < 10; i++ {
			text, labels := fillTravel(it.templates[i%len(it.templates)], i+len(it.intent))
			utts = append(utts, utteranceJSON{Text: text, Language: "en-us", Dataset: dataset(i), Intent: it.intent, Entities: labels})
		}
	}
	var sublists []any
	for _, c := range travelCities[:4] {
		sublists = append(sublists, map[string]any{"listKey": c, "synonyms": []any{map[string]any{"language": "en-us", "values": []string{strings.ToUpper(c[:3])}}}})
	}
	entities := []any{
		map[string]any{"category": "City", "compositionSetting": "combineComponents", "list": map[string]any{"sublists": sublists}},
		map[string]any{"category": "BookingRef", "regex": map[string]any{"expressions": []any{
			map[string]any{"regexKey": "ref", "language": "en-us", "regexPattern": "[A-Z]{2}[0-9]{4}"}}}},
		map[string]any{"category": "Travellers", "prebuilts": []any{map[string]any{"category": "Quantity.Number"}}},
	}
	js, err := marshal(convProjectJSON{
		ProjectFileVersion: "2023-04-01", StringIndexType: "Utf16CodeUnit",
		Metadata: convMetadataJSON{ProjectKind: "Conversation", ProjectName: "Travel", Language: "en-us",
			Description: "A travel bot: book, cancel, flight status (langsync sample)."},
		Assets: convAssetsJSON{ProjectKind: "Conversation", Intents: intents, Entities: entities, Utterances: utts},
	})
	if err != nil {
		return err
	}
	out["travel/project.json"] = js
	probes, err := marshal([]probe{
		{"please book a flight to Paris for 2 people", []string{"BookFlight", "City", "Travellers"}},
		{"cancel my booking QX7781", []string{"CancelBooking", "BookingRef"}},
		{"is flight LH4402 on time", []string{"FlightStatus", "BookingRef"}},
	})
	if err != nil {
		return err
	}
	out["travel/probes.json"] = probes

	target := func(kind, key, project string) any {
		return map[string]any{"targetProjectKind": kind, key: map[string]any{"projectName": project, "deploymentName": "production"}}
	}
	var rutts []utteranceJSON
	for i, t := range []string{"book a flight to Rome", "cancel my reservation", "is my flight delayed", "I need two plane tickets", "flight status please"} {
		rutts = append(rutts, utteranceJSON{Text: t, Language: "en-us", Dataset: dataset(i), Intent: "Travel", Entities: []labelJSON{}})
	}
	for i, t := range []string{"what is the baggage allowance", "can I bring my dog on board", "how heavy can my suitcase be", "are liquids allowed in hand luggage", "baggage rules for children"} {
		rutts = append(rutts, utteranceJSON{Text: t, Language: "en-us", Dataset: dataset(i), Intent: "Baggage", Entities: []labelJSON{}})
	}
	js, err = marshal(convProjectJSON{
		ProjectFileVersion: "2023-04-01", StringIndexType: "Utf16CodeUnit",
		Metadata: convMetadataJSON{ProjectKind: "Orchestration", ProjectName: "TravelRouter", Language: "en-us",
			Description: "Routes bookings to Travel (CLU) and baggage questions to question answering (langsync sample)."},
		Assets: convAssetsJSON{ProjectKind: "Orchestration", Intents: []intentJSON{
			{Category: "None"},
			{Category: "Travel", Orchestration: target("Conversation", "conversationOptions", "Travel")},
			{Category: "Baggage", Orchestration: target("QuestionAnswering", "questionAnsweringOptions", "TravelFAQ")},
		}, Utterances: rutts},
	})
	if err != nil {
		return err
	}
	out["travelrouter/project.json"] = js
	probes, err = marshal([]probe{
		{"book me a flight to Madrid", []string{"Travel", "BookFlight", "City"}},
		{"what is the baggage allowance for my flight", []string{"Baggage"}},
	})
	if err != nil {
		return err
	}
	out["travelrouter/probes.json"] = probes
	return nil
}
