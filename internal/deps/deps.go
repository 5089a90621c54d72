// Package deps pins the design's dependencies in go.mod while the packages
// that use them are written. It is removed once each is imported for real.
package deps

import (
	_ "github.com/Azure/azure-sdk-for-go/sdk/azcore"
	_ "github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	_ "github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	_ "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	_ "github.com/aws/aws-lambda-go/lambda"
	_ "go.yaml.in/yaml/v3"
)
