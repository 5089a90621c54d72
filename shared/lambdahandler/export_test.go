package lambdahandler

import "github.com/aws/aws-lambda-go/lambda"

// InitError exposes the handler Run serves when start-up fails.
func InitError(err error) lambda.Handler { return initError{err} }
