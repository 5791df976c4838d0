package probe

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

func init() {
	registerProber(config.KindTCP, probeTCP)
}

// probeTCP connects to host:port and, when configured, completes a TLS
// handshake, recording the leaf certificate the peer served.
func probeTCP(ctx context.Context, chk *config.Check, res *Result, chains *ChainMemo) error {
	t := chk.TCP
	var d net.Dialer
	start := time.Now()
	conn, err := d.DialContext(ctx, "tcp", t.Address)
	res.Phase("connect", time.Since(start))
	if err != nil {
		return ClassifyError(ctx, err)
	}
	defer conn.Close()
	if !t.TLS {
		return nil
	}
	conf := t.TLSClient
	if conf == nil {
		conf = &tls.Config{}
	}
	host, _, _ := net.SplitHostPort(t.Address)
	tlsConn := tls.Client(conn, chains.verifyThrough(conf.Clone(), host))
	start = time.Now()
	err = tlsConn.HandshakeContext(ctx)
	res.Phase("tls", time.Since(start))
	if err != nil {
		if ctx.Err() != nil {
			return fetch.Errorf(ReasonTimeout, "TLS handshake: %v", err)
		}
		return fetch.Errorf(ReasonTLS, "TLS handshake: %v", err)
	}
	state := tlsConn.ConnectionState()
	res.SetTLS(&state)
	return nil
}
