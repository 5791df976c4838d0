// Package awsclient holds what every AWS-backed source (cloud aws_health and
// aws_ses, delivery.ses, Security Hub findings) shares: bounded bodies, the
// bounded failure reasons, and the exporter's logger for the SDK's own log
// lines.
//
// The AWS SDK is the largest part of the exporter: about 12 MB of the 30 MB
// of text and 7 MB of the idle resident memory (bench/compare). Each area
// keeps its AWS adapter in a file of its own, built unless the tag noaws is
// set (`go build -tags noaws`), so a deployment without AWS sources can
// leave that weight out. A config that names an AWS source in such a build
// fails at start with ErrLeftOut.
package awsclient

import "errors"

// ErrLeftOut is the error of an AWS source in a build without AWS support.
var ErrLeftOut = errors.New("AWS sources are not in this build (built with -tags noaws): use a build without that tag")
