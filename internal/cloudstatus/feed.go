package cloudstatus

import (
	"bytes"
	"fmt"
	"regexp"
	"time"

	"github.com/mmcdole/gofeed"
)

// FeedRule maps feed items whose title or description matches Match to a
// category. Rules are tried in order and the first match wins, so a
// "復旧|完了" rule with Ignore placed first retires notices of resolved
// failures. Items no rule matches are ignored.
type FeedRule struct {
	Match     *regexp.Regexp
	Category  Category // empty with Ignore
	Ignore    bool
	Component string // the component the item affects
	Status    Status // state of Component while the item is recent
}

// DecodeFeed parses an RSS or Atom feed (gofeed) and applies the rules to
// items published or updated within maxAge before now (items without a date
// count: a notice we cannot age is not dropped). Every component named by a
// rule is reported, operational unless a matching item says otherwise.
func DecodeFeed(data []byte, rules []FeedRule, now time.Time, maxAge time.Duration) (Snapshot, error) {
	f, err := gofeed.NewParser().Parse(bytes.NewReader(data))
	if err != nil {
		return Snapshot{}, fmt.Errorf("feed: %w", err)
	}
	var cs componentSet
	for _, r := range rules {
		if r.Component != "" && !r.Ignore {
			cs.set(r.Component, Operational)
		}
	}
	var snap Snapshot
	for _, it := range f.Items {
		if it == nil {
			continue
		}
		when := it.UpdatedParsed
		if when == nil {
			when = it.PublishedParsed
		}
		if when != nil && maxAge > 0 && now.Sub(*when) > maxAge {
			continue
		}
		text := it.Title + "\n" + it.Description
		for _, r := range rules {
			if !r.Match.MatchString(text) {
				continue
			}
			if r.Ignore {
				break
			}
			ev := Event{ID: it.GUID, Title: it.Title, Category: r.Category}
			if ev.ID == "" {
				ev.ID = it.Link
			}
			// The publication date is not the window a notice announces
			// (that is prose), so feed events carry no Start and never
			// feed the maintenance timestamps.
			if r.Component != "" {
				ev.Components = []string{r.Component}
				cs.set(r.Component, r.Status)
			}
			snap.Events = append(snap.Events, ev)
			break
		}
	}
	snap.Components = cs.list()
	return snap, nil
}
