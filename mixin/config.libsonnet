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
    // The contract: availability of at least this ratio, planned stops
    // excluded, and at most outageBudget unplanned outages a year.
    availabilityObjective: 0.995,
    outageBudget: 3,
    // Downs separated by a recovery shorter than this are one outage.
    outageMergeWindow: '5m',
    // Evaluation interval of the availability group. Every recorded sample
    // of bosaimail:service_up:unplanned weighs this much time; the ratios
    // are sample averages, so they stay exact whatever the value.
    availabilityInterval: '1m',
    // Reaches back to the previous evaluation of the same group (left-open
    // range, so more than one interval and less than two).
    availabilityPreviousWindow: '90s',
    // The 30d/365d ratios and the outage count change slowly: a separate
    // group evaluates them less often.
    availabilityLongInterval: '5m',
    // BosaiMailServiceDown fires after the service is down this long. The
    // exporter re-probes a failed critical check at once within the scrape
    // (bosaimail_check_retries_total), so one lost probe never reads as
    // down; 15s then means two scrapes in a row (four probes) failed at the
    // production interval: a real outage is paged about 35 s after it
    // starts instead of about 85 s, and a blip shorter than a scrape
    // interval is never paged.
    serviceDownFor: '15s',
    // Evaluation interval of the service-level alerts (BosaiMailServiceDown
    // and its neighbours). At the global 15s, an evaluation that happens
    // just before each scrape adds almost 15 s to every page; at 5s it adds
    // at most 5 s. The rules read a handful of series: cheap.
    serviceDownEvalInterval: '5s',
    // The exporter not scraped (or a service missing from its output) this
    // long is an alert: that time is neither up nor down.
    exporterDownFor: '5m',
    monitoringGapFor: '5m',
    // Multi-window multi-burn-rate alerts over a 30-day budget (Google SRE
    // workbook, chapter 5): page pairs are critical, ticket pairs warning.
    availabilityBurnRates: [
      { severity: 'critical', long: '1h', short: '5m', factor: 14.4, 'for': '2m' },
      { severity: 'critical', long: '6h', short: '30m', factor: 6, 'for': '15m' },
      { severity: 'warning', long: '1d', short: '2h', factor: 3, 'for': '1h' },
      { severity: 'warning', long: '3d', short: '6h', factor: 1, 'for': '3h' },
    ],

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
    // How long a provider must report a component degraded or down before
    // BosaiMailCloudDegraded fires (status pages flap during an incident).
    cloudDegradedFor: '10m',
    // BosaiMailCloudMaintenanceScheduled fires when an announced maintenance
    // starts within the first number of days (label ahead="7d"), and again
    // within the second (ahead="1d").
    cloudMaintenanceNoticeDays: [7, 1],
    // Sending quota use (e.g. SES 24-hour quota): warning from, critical from.
    sendQuotaWarningRatio: 0.8,
    sendQuotaCriticalRatio: 0.95,
    sendQuotaWarningFor: '5m',
    // How long a background source may fail before BosaiMailSourceFailing
    // (three refreshes at the default 5m interval).
    sourceFailingFor: '15m',

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
    // Advisory alerts fire per product on the worse of the JVN and NVD
    // counts; an acknowledgement (advisories.acknowledgements_file) is the
    // only way to close one.
    securityAdvisoryFor: '0m',
    // Antivirus signatures older than this fire BosaiMailAntivirusSignaturesStale
    // (ClamAV publishes several daily updates a day).
    antivirusSignatureMaxAgeSeconds: 2 * 24 * 3600,
    // Finding severities (feed's own words, mapped) that fire BosaiMailSecurityFinding.
    securityFindingSeverities: 'critical|high',
    // A declared inventory version that differs from the running one for
    // this long fires BosaiMailInventoryDrift (an upgrade in progress is not drift).
    inventoryDriftFor: '30m',

    // --- delivery (issue 12) ---
    // A broadcast (one alert mail to every registered address) must be
    // delivered within this many seconds of its start; a projected
    // completion beyond it fires BosaiMailDeliveryBacklog.
    broadcastObjectiveSeconds: 900,
    // How long the projection must stay beyond the objective (the drain
    // rate of the first minute is noisy).
    broadcastBacklogFor: '2m',
    // BosaiMailQueueStuck: the oldest message in the incoming or active
    // queue is older than this and the queue has not drained ...
    queueStuckAgeSeconds: 1800,
    // ... for this long. (The deferred queue holds old messages by design:
    // a full mailbox is retried for days.)
    queueStuckFor: '10m',
    // Sender-reputation thresholds: Amazon SES puts an account under review
    // at a 5 % bounce rate and a 0.1 % complaint rate.
    bounceRatioThreshold: 0.05,
    complaintRatioThreshold: 0.001,
    deliveryRatioFor: '15m',
  },
}
