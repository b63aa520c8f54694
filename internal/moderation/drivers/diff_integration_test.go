package drivers_test

import (
	"context"
	"testing"

	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
)

// TestWithEngineDiff runs the controller's loop with the engine's own Diff:
// Probe, Express, List, Diff, Apply, then List and Diff again must find
// nothing to do, with hand-made entries untouched throughout.
func TestWithEngineDiff(t *testing.T) {
	policy := []moderation.Entry{
		{Domain: "spam.example", Action: moderation.Suspend, PublicComment: "spam", PrivateComment: "local"},
		{Domain: "sub.spam.example", Action: moderation.Silence, PrivateComment: "feed A"}, // covered by its parent
		{Domain: "loud.example", Action: moderation.Silence, RejectMedia: true, PrivateComment: "feed B"},
		{Domain: "pics.example", Action: moderation.RejectMedia, PrivateComment: "feed C"},
		{Domain: "friend.example", Action: moderation.Allow, PrivateComment: "partner"},
		{Domain: "human.example", Action: moderation.Silence, PrivateComment: "feed D"}, // a human's suspend covers it
	}
	policy = append(policy, manyBlocks(60, moderation.Suspend)...)
	servers := map[string]func(fakeserver.Options) *fakeserver.Server{
		"mastodon":   fakeserver.NewMastodon,
		"gotosocial": fakeserver.NewGoToSocial,
	}
	for name, start := range servers {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			srv := start(fakeserver.Options{PageSize: 25})
			defer srv.Close()
			human := srv.AddBlock(fakeserver.Record{Domain: "human.example", Severity: "suspend", PrivateComment: "by hand"})
			d := newDriver(t, name, srv, drivers.Config{})
			caps, err := d.Probe(ctx)
			if err != nil {
				t.Fatal(err)
			}
			desired, notes := d.Express(caps, policy, drivers.Blocklist)
			t.Logf("unsupported: %q", notes)

			plan := moderation.Diff(desired, mustList(t, d))
			if len(plan.Covered) != 2 || plan.Unmanaged != 1 {
				t.Fatalf("plan: covered %+v, unmanaged %d", plan.Covered, plan.Unmanaged)
			}
			srv.ResetCounters()
			res, err := d.Apply(ctx, plan, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Created != len(plan.Create) || res.Done != res.Total {
				t.Fatalf("result %+v for %d creates", res, len(plan.Create))
			}
			if name == "mastodon" && srv.Writes() != len(plan.Create) {
				t.Fatalf("mastodon: %d writes for %d creates", srv.Writes(), len(plan.Create))
			}
			if name == "gotosocial" && srv.Writes() >= len(plan.Create)/2 {
				t.Fatalf("gotosocial: %d writes for %d creates, bulk import not used", srv.Writes(), len(plan.Create))
			}
			t.Logf("%d creates in %d write calls", len(plan.Create), srv.Writes())

			cur := mustList(t, d)
			if again := moderation.Diff(desired, cur); !again.Empty() || len(again.Conflicts) != 0 {
				t.Fatalf("second Diff: %d creates %d updates %d deletes %d conflicts",
					len(again.Create), len(again.Update), len(again.Delete), len(again.Conflicts))
			}
			for _, se := range cur {
				if se.ID == human.ID && (se.Managed || se.PrivateComment != "by hand") {
					t.Fatalf("hand-made entry listed as %+v", se)
				}
			}

			// Retracting everything deletes exactly our entries.
			srv.ResetCounters()
			plan = moderation.Diff(nil, cur)
			if _, err := d.Apply(ctx, plan, nil); err != nil {
				t.Fatal(err)
			}
			for _, se := range mustList(t, d) {
				if se.Managed {
					t.Fatalf("managed entry left after retraction: %+v", se)
				}
			}
			if b := srv.Blocks(); len(b) != 1 || b[0].ID != human.ID {
				t.Fatalf("blocks after retraction: %+v", b)
			}
		})
	}
}
