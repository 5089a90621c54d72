// Package queuetest is the contract suite every queue.Sender implementation
// passes, and a fake clock to drive scheduled delivery without sleeping.
package queuetest
