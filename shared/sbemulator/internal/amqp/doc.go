// Package amqp is the stand-in's own small AMQP 1.0 codec: every primitive
// and compound type (encode with Append, decode with Decoder), frames and
// performatives, and a message splitter that keeps the sections a broker
// must hand back byte for byte. It serves the server side only; clients use
// github.com/Azure/go-amqp.
package amqp
