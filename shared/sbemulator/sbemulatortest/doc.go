// Package sbemulatortest starts an in-process Service Bus stand-in for tests.
package sbemulatortest
