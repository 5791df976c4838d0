package cloudstatus

import (
	"reflect"
	"testing"
)

// The properties every decoder must hold for untrusted status documents,
// checked on recorded-format fixtures (testdata/cloud).
func TestDecodersSemantics(t *testing.T) {
	t.Parallel()
	t.Run("statuspage null entries are skipped", func(t *testing.T) {
		snap, err := DecodeStatuspage(payload(t, "statuspage_nulls.json"), nil)
		if err != nil {
			t.Fatal(err)
		}
		want := []Component{{Name: "Mail Sending", Status: Operational}}
		if !reflect.DeepEqual(snap.Components, want) || len(snap.Events) != 0 {
			t.Errorf("components %v, events %v; want %v and no event", snap.Components, snap.Events, want)
		}
	})
	t.Run("statuspage same name in two groups is two components", func(t *testing.T) {
		snap, err := DecodeStatuspage(payload(t, "statuspage_groups.json"), nil)
		if err != nil {
			t.Fatal(err)
		}
		want := []Component{{"日本リージョン / API", MajorOutage}, {"SMTP Relay", Degraded}, {"US Region / API", Operational}, {"Dashboard", Operational}}
		if !reflect.DeepEqual(snap.Components, want) {
			t.Errorf("components %v, want %v", snap.Components, want)
		}
	})
	t.Run("statuspage configured but absent is unknown", func(t *testing.T) {
		snap, err := DecodeStatuspage(payload(t, "statuspage_groups.json"), NewFilter([]string{"API", "Dashboard", "Email Activity Feed"}))
		if err != nil {
			t.Fatal(err)
		}
		want := []Component{{"日本リージョン / API", MajorOutage}, {"US Region / API", Operational}, {"Dashboard", Operational}, {"Email Activity Feed", Unknown}}
		if !reflect.DeepEqual(snap.Components, want) {
			t.Errorf("components %v, want %v", snap.Components, want)
		}
	})
	t.Run("statuspage empty but valid is no components", func(t *testing.T) {
		snap, err := DecodeStatuspage([]byte(`{"components":[],"incidents":[],"scheduled_maintenances":[]}`), nil)
		if err != nil || len(snap.Components) != 0 || len(snap.Events) != 0 {
			t.Errorf("snap %+v, err %v", snap, err)
		}
	})
	t.Run("gcp null entries are not incidents", func(t *testing.T) {
		snap, err := DecodeGCPIncidents(payload(t, "gcp_nulls.json"), NewFilter([]string{"Cloud SQL"}), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(snap.Events) != 1 || snap.EventsOpen()[Issue] != 1 {
			t.Errorf("events %v, want the one real incident", snap.Events)
		}
	})
	t.Run("gcp empty list is no incidents, null is refused", func(t *testing.T) {
		snap, err := DecodeGCPIncidents(payload(t, "gcp_empty.json"), NewFilter([]string{"Cloud SQL"}), nil)
		if err != nil || len(snap.Events) != 0 || !reflect.DeepEqual(snap.Components, []Component{{"Cloud SQL", Operational}}) {
			t.Errorf("empty: %+v, %v", snap, err)
		}
		if _, err := DecodeGCPIncidents(payload(t, "gcp_null_document.json"), nil, nil); err == nil {
			t.Error("a null document accepted as no incidents")
		}
	})
	t.Run("azure empty page is no resources, null entries refused", func(t *testing.T) {
		snap, next, err := DecodeAzurePage(payload(t, "azure_empty.json"), nil)
		if err != nil || next != "" || len(snap.Components) != 0 {
			t.Errorf("empty: %+v %q %v", snap, next, err)
		}
		if _, _, err := DecodeAzurePage(payload(t, "azure_nulls.json"), nil); err == nil {
			t.Error("a null resource accepted")
		}
		snap.AddAbsent(NewFilter([]string{"vm-mail-01"}))
		if !reflect.DeepEqual(snap.Components, []Component{{"vm-mail-01", Unknown}}) {
			t.Errorf("configured resource absent from every page: %v", snap.Components)
		}
	})
}
