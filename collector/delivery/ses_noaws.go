//go:build noaws

package delivery

import (
	"fmt"

	"github.com/go-kit/log"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/awsclient"
)

func newSESStats(*config.SESSource, log.Logger) (sesStats, func(), error) {
	return nil, nil, fmt.Errorf("delivery.ses: %w", awsclient.ErrLeftOut)
}
