// Package awsclient is how every AWS-backed source (cloud aws_health and
// aws_ses, delivery.ses, Security Hub findings) calls AWS: SigV4-signed
// requests in the service's protocol, bounded answers, the bounded failure
// reasons with the service's own error code.
//
// The SDK's service clients for those four calls were 9 MB of the 31.6 MB
// binary and about 4 MiB of idle resident memory (their tables are built
// at start even when no AWS source is configured); what stays is the SDK's
// credential chain and signer, about 3.5 MB and 2.5 MiB (bench/compare).
// Each area keeps its AWS adapter in a file of its own, built unless the
// tag noaws is set (`go build -tags noaws`), so a deployment without AWS
// sources can leave even that out. A config that names an AWS source in
// such a build fails at start with ErrLeftOut.
package awsclient

import "errors"

// ErrLeftOut is the error of an AWS source in a build without AWS support.
var ErrLeftOut = errors.New("AWS sources are not in this build (built with -tags noaws): use a build without that tag")
