// Every threshold, window and selector of the mixin, so another prefecture
// can change them without touching the rules. Each area keeps its block.
{
  _config+:: {
    // Selects the exporter's series.
    selector: 'job="bosaimail"',
    // Base of every runbook_url; one section per alert in docs/runbooks.md.
    runbookURL: 'https://github.com/bosaimail/bosaimail_exporter/blob/main/docs/runbooks.md',
    // Dashboard language: 'ja' (default) or 'en'.
    language: 'ja',

    // --- availability (issue 4) ---

    // --- checks (issues 2, 3) ---
    // How long a check must fail, seen from every exporter instance, before
    // BosaiMailCheckFailing fires (a single failed scrape is noise).
    checkFailingFor: '5m',
    // A canary mail slower than this (send to arrival) ...
    roundTripSlowSeconds: 60,
    // ... for this long (about three canaries at the default 5m interval)
    // fires BosaiMailRoundTripSlow.
    roundTripSlowFor: '15m',
    // Certificate expiry: warning below this many days, critical below the
    // second (renewal takes the contractor's change procedure).
    tlsCertExpiryWarningDays: 21,
    tlsCertExpiryCriticalDays: 7,

    // --- cloud (issue 5) ---

    // --- jobs, backups, integrity (issue 6) ---

    // --- security (issue 7) ---

    // --- delivery (issue 12) ---
  },
}
