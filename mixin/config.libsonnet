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
    // Per-job schedules, grace periods and per-backup max ages live in the
    // exporter config (jobs.scheduled, jobs.backups) and reach the rules as
    // bosaimail_job_next_due_timestamp_seconds / bosaimail_backup_max_age_seconds.
    // How long a failed last run must stand before BosaiMailJobFailed fires.
    jobFailedFor: '0m',
    // How long past its due time a job may be before it is overdue.
    jobOverdueFor: '5m',
    // BosaiMailBackupTooSmall: the newest backup is smaller than the one
    // before by more than this fraction.
    backupSizeDropFraction: 0.5,
    // How long a newer, incomplete backup artefact may stay incomplete
    // (a backup still being written is incomplete for a while).
    backupIncompleteFor: '2h',

    // --- security (issue 7) ---

    // --- delivery (issue 12) ---
  },
}
