package security

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/advisory"
	"github.com/bosaimail/bosaimail_exporter/internal/cpe"
	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

// secMatched is an advisory that applies to the inventory.
type secMatched struct {
	ID, Title, Link, Severity string
	CVEs                      []string
	Published                 time.Time
	// Products are the inventory products it applies to.
	Products       []string
	KnownExploited bool
}

// secFeedResult is what a JVN or NVD sweep keeps: the matched advisories
// only, plus what it saw, so memory does not grow with the feed.
type secFeedResult struct {
	Matched []secMatched
	// Entries is how many feed entries were read.
	Entries int
	// PerProduct is the feed's total per queried product (for the
	// "suddenly lists nothing" check).
	PerProduct map[string]int
	// SeenCVEs are the CVE IDs the NVD judged (NVD only): a JVN entry whose
	// CVEs NVD judged not applicable to a version is superseded.
	SeenCVEs map[string]bool
}

// secQuery is one product-level query of a feed (vendor and product of an
// inventory entry; several versions of a product share one query).
type secQuery struct {
	Part, Vendor, Product string
}

func secQueries(inv []config.Software) []secQuery {
	seen := map[secQuery]bool{}
	var out []secQuery
	for _, s := range inv {
		q := secQuery{s.Name.Part, s.Name.Vendor, s.Name.Product}
		if q.Part == cpe.Any {
			q.Part = "a"
		}
		if !seen[q] {
			seen[q] = true
			out = append(out, q)
		}
	}
	return out
}

func secNames(inv []config.Software) []cpe.Name {
	names := make([]cpe.Name, len(inv))
	for i, s := range inv {
		names[i] = s.Name
	}
	return names
}

// secMatch returns the advisory as matched to the inventory, or false.
func secMatch(a advisory.Advisory, inv []config.Software, names []cpe.Name) (secMatched, bool) {
	hit := map[int]bool{}
	for _, c := range a.Configs {
		for _, i := range c.Affected(names) {
			hit[i] = true
		}
	}
	if len(hit) == 0 {
		return secMatched{}, false
	}
	m := secMatched{ID: a.ID, Title: a.Title, Link: a.Link, Severity: a.Severity, CVEs: a.CVEs, Published: a.Published, KnownExploited: a.KnownExploited}
	for i := range inv {
		if hit[i] {
			m.Products = append(m.Products, inv[i].Product)
		}
	}
	return m, true
}

// secWithQuery adds v to the query the configured URL may already carry
// (e.g. a key), instead of appending a second "?".
func secWithQuery(base *url.URL, v url.Values) string {
	u := *base
	q := u.Query()
	for k, vs := range v {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// secStream GETs u and hands the body to decode as a stream bounded by
// limit. Non-2xx answers become status (or rate-limit) errors.
func secStream(ctx context.Context, client *http.Client, u string, header http.Header, limit int64, decode func(io.Reader) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fetch.Errorf(fetch.ReasonOther, "building request: %v", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		return &fetch.Error{Reason: fetch.Reason(err), Err: fmt.Errorf("GET %s: %w", fetch.Redact(u), err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		msg := fmt.Sprintf("GET %s: HTTP %d: %s", fetch.Redact(u), resp.StatusCode, fetch.PeerText(body, req))
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusForbidden {
			// NVD answers 403 when the rolling rate limit is exceeded.
			after := time.Minute
			if s, ok := fetch.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok && s > 0 {
				after = s
			}
			return &fetch.RetryAfterError{After: after, Err: errors.New(msg)}
		}
		return fetch.Errorf(fetch.ReasonStatus, "%s", msg)
	}
	if err := decode(fetch.LimitedReader(resp.Body, limit)); err != nil {
		var fe *fetch.Error
		if errors.As(err, &fe) {
			return fmt.Errorf("GET %s: %w", fetch.Redact(u), err)
		}
		var je *advisory.JVNError
		if errors.As(err, &je) {
			return &fetch.Error{Reason: fetch.ReasonPayload, Err: fmt.Errorf("GET %s: %w", fetch.Redact(u), err)}
		}
		if ctx.Err() != nil {
			return &fetch.Error{Reason: fetch.ReasonTimeout, Err: fmt.Errorf("GET %s: %w", fetch.Redact(u), err)}
		}
		return &fetch.Error{Reason: fetch.ReasonDecode, Err: fmt.Errorf("GET %s: %w", fetch.Redact(u), err)}
	}
	return nil
}

// secPause waits between page requests to honour a feed's rate limit.
func secPause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// secMaxPages bounds a sweep, so a feed that keeps announcing more results
// cannot make it loop for ever.
const secMaxPages = 200

// secCheckEmpty turns a product query that suddenly returns nothing, after
// having returned entries before, into an error: a broken feed must not
// make advisories disappear.
func secCheckEmpty(feed string, prev *secFeedResult, cur map[string]int) error {
	if prev == nil {
		return nil
	}
	for product, n := range cur {
		if n == 0 && prev.PerProduct[product] > 0 {
			return fetch.Errorf(fetch.ReasonPayload, "%s suddenly lists no entries for %s (had %d): keeping the last result", feed, product, prev.PerProduct[product])
		}
	}
	return nil
}

// secSweep runs a feed's query for every key (one per inventory product),
// page by page: fc.RequestInterval between any two requests (the feeds'
// rate limits), at most secMaxPages per key. page reads the page of key that
// begins at start and tells where the next one begins, if any.
//
// A feed whose total for a key changes between its pages (an entry was
// published or withdrawn mid-sweep) has shifted under the paging: what the
// pages hold together may miss or repeat entries. The key is read again
// from its first page; if the total moves again, the sweep fails (the last
// good result stays) rather than mixing two states of the feed.
func secSweep(ctx context.Context, feed string, fc *config.FeedConfig, keys []string, first int,
	page func(key string, start int) (next, total int, more bool, err error)) error {
	requests := 0
	for _, key := range keys {
		start, total, restarted := first, -1, false
		for n := 0; ; n++ {
			if n >= secMaxPages {
				return fetch.Errorf(fetch.ReasonPayload, "%s: more than %d pages for %s", feed, secMaxPages, key)
			}
			if requests > 0 {
				if err := secPause(ctx, fc.RequestInterval.D()); err != nil {
					return err
				}
			}
			requests++
			next, t, more, err := page(key, start)
			if err != nil {
				return err
			}
			if total >= 0 && t != total {
				if restarted {
					return fetch.Errorf(fetch.ReasonPayload, "%s: the total for %s changed between pages again (%d, then %d); not mixing two states of the feed", feed, key, total, t)
				}
				start, total, restarted = first, -1, true
				continue
			}
			total = t
			if !more {
				break
			}
			start = next
		}
	}
	return nil
}

// secSweepKeys are the product-level query keys of a feed: prefix, then
// part:vendor:product.
func secSweepKeys(inv []config.Software, prefix string) []string {
	var keys []string
	for _, q := range secQueries(inv) {
		keys = append(keys, prefix+q.Part+":"+q.Vendor+":"+q.Product)
	}
	return keys
}

// consider counts a feed entry and keeps it if it applies to the
// inventory, once: a later listing of the same ID (another page or product)
// replaces the earlier one.
func (r *secFeedResult) consider(a advisory.Advisory, inv []config.Software, names []cpe.Name, byID map[string]int) {
	r.Entries++
	m, ok := secMatch(a, inv, names)
	if !ok {
		return
	}
	if i, dup := byID[m.ID]; dup {
		r.Matched[i] = m
		return
	}
	byID[m.ID] = len(r.Matched)
	r.Matched = append(r.Matched, m)
}

// finish ends a sweep: its error if any, else the "suddenly lists nothing"
// check against prev, else the matches in ID order.
func (r *secFeedResult) finish(feed string, prev *secFeedResult, err error) (secFeedResult, error) {
	if err == nil {
		err = secCheckEmpty(feed, prev, r.PerProduct)
	}
	if err != nil {
		return *r, err
	}
	sort.Slice(r.Matched, func(i, j int) bool { return r.Matched[i].ID < r.Matched[j].ID })
	return *r, nil
}

// secSweepFunc reads a whole feed for the inventory; prev is the last good
// result (for the "suddenly lists nothing" check).
type secSweepFunc func(ctx context.Context, client *http.Client, fc *config.FeedConfig, limit int64, inv []config.Software, prev *secFeedResult) (secFeedResult, error)

// jvnSweep queries MyJVN getVulnOverviewList per product, page by page.
func jvnSweep(ctx context.Context, client *http.Client, fc *config.FeedConfig, limit int64, inv []config.Software, prev *secFeedResult) (secFeedResult, error) {
	res := secFeedResult{PerProduct: map[string]int{}}
	names := secNames(inv)
	byID := map[string]int{}
	err := secSweep(ctx, "JVN", fc, secSweepKeys(inv, "cpe:/"), 1, func(cpeName string, start int) (int, int, bool, error) {
		v := url.Values{}
		v.Set("method", "getVulnOverviewList")
		v.Set("feed", "hnd")
		v.Set("lang", "ja")
		v.Set("cpeName", cpeName)
		v.Set("startItem", strconv.Itoa(start))
		v.Set("maxCountItem", strconv.Itoa(fc.PageSize))
		// Without these MyJVN only lists the last week.
		v.Set("rangeDatePublic", "n")
		v.Set("rangeDatePublished", "n")
		v.Set("rangeDateFirstPublished", "n")
		var st advisory.JVNStatus
		err := secStream(ctx, client, secWithQuery(fc.URL.URL, v), nil, limit, func(r io.Reader) error {
			var err error
			st, err = advisory.DecodeJVN(r, func(a advisory.Advisory) error {
				res.consider(a, inv, names, byID)
				return nil
			})
			return err
		})
		if err != nil {
			return 0, 0, false, err
		}
		res.PerProduct[cpeName] = st.TotalRes
		next := st.FirstRes + st.TotalResRet
		return next, st.TotalRes, st.TotalResRet > 0 && next-1 < st.TotalRes, nil
	})
	return res.finish("JVN", prev, err)
}

// nvdSweep queries the NVD CVE API 2.0 per product (virtualMatchString),
// page by page, and keeps only the CVEs that apply to the inventory.
func nvdSweep(ctx context.Context, client *http.Client, fc *config.FeedConfig, limit int64, inv []config.Software, prev *secFeedResult) (secFeedResult, error) {
	res := secFeedResult{PerProduct: map[string]int{}, SeenCVEs: map[string]bool{}}
	names := secNames(inv)
	byID := map[string]int{}
	header := http.Header{}
	// Read at each sweep, so a rotated key needs no reload.
	key, err := config.ReadOptionalSecret(fc.APIKeyFile)
	if err != nil {
		return res, fetch.Errorf(fetch.ReasonOther, "NVD API key: %v", err)
	}
	if key != "" {
		header.Set("apiKey", key)
	}
	err = secSweep(ctx, "NVD", fc, secSweepKeys(inv, "cpe:2.3:"), 0, func(match string, start int) (int, int, bool, error) {
		v := url.Values{}
		v.Set("virtualMatchString", match)
		v.Set("resultsPerPage", strconv.Itoa(fc.PageSize))
		v.Set("startIndex", strconv.Itoa(start))
		var pg advisory.NVDPage
		err := secStream(ctx, client, secWithQuery(fc.URL.URL, v), header, limit, func(r io.Reader) error {
			var err error
			pg, err = advisory.DecodeNVD(r, func(a advisory.Advisory) error {
				res.SeenCVEs[a.ID] = true
				res.consider(a, inv, names, byID)
				return nil
			})
			return err
		})
		if err != nil {
			return 0, 0, false, err
		}
		if pg.StartIndex != start {
			return 0, 0, false, fetch.Errorf(fetch.ReasonPayload, "NVD answered startIndex %d to a request for %d", pg.StartIndex, start)
		}
		res.PerProduct[match] = pg.TotalResults
		next := start + pg.Count
		return next, pg.TotalResults, pg.Count > 0 && next < pg.TotalResults, nil
	})
	return res.finish("NVD", prev, err)
}

// secKEV is the set of known exploited CVE IDs.
type secKEV struct {
	CVEs    map[string]bool
	Version string
}

func kevFetch(ctx context.Context, client *http.Client, fc *config.FeedConfig, limit int64, prev *secKEV) (secKEV, error) {
	res := secKEV{CVEs: map[string]bool{}}
	err := secStream(ctx, client, fc.URL.String(), nil, limit, func(r io.Reader) error {
		cat, err := advisory.DecodeKEV(r, func(e advisory.KEVEntry) error {
			res.CVEs[e.CVEID] = true
			return nil
		})
		res.Version = cat.Version
		return err
	})
	if err != nil {
		return res, err
	}
	if len(res.CVEs) == 0 {
		return res, fetch.Errorf(fetch.ReasonPayload, "KEV catalog %s lists no entries: keeping the last result", res.Version)
	}
	if prev != nil && len(res.CVEs) < len(prev.CVEs)/2 {
		return res, fetch.Errorf(fetch.ReasonPayload, "KEV catalog shrank from %d to %d entries: keeping the last result", len(prev.CVEs), len(res.CVEs))
	}
	return res, nil
}
