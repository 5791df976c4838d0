//go:build !noaws

package awsclient

// Enabled tells whether this build has the AWS sources (tag noaws unset).
const Enabled = true
