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

    // --- cloud (issue 5) ---

    // --- jobs, backups, integrity (issue 6) ---

    // --- security (issue 7) ---

    // --- delivery (issue 12) ---
  },
}
