package sample

import (
	"github.com/langsync/langsync/shared/langsync"
)

// The conversation samples have no documents: their utterances are in the
// project JSON. Their probes' Want lists the top intent first, then the
// entity categories expected (for TravelRouter: the routed intent, then the
// target project's top intent when it is a CLU project).

// Travel returns the CLU "Travel" project: a travel bot with the intents
// BookFlight, CancelBooking and FlightStatus (and None), the entities City
// (a list component plus labelled spans), BookingRef (a regex) and
// Travellers (the prebuilt Quantity.Number), 30 utterances (24 Train, 6
// Test), and probes such as "cancel my booking QX7781" (CancelBooking,
// BookingRef).
func Travel() *Project { return load("travel", "Travel", langsync.Conversation) }

// TravelRouter returns the orchestration "TravelRouter" project: intent
// Travel routes to the Travel CLU project's production deployment, Baggage
// to a question answering project (TravelFAQ), None nowhere.
func TravelRouter() *Project { return load("travelrouter", "TravelRouter", langsync.Orchestration) }

// Conversations returns the conversation samples, the CLU project before
// the orchestration project that references it.
func Conversations() []*Project { return []*Project{Travel(), TravelRouter()} }
