package memlimit

import "testing"

func TestFromCgroup(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"max\n", 0, false},                 // v2, no limit
		{"536870912\n", 483183810, false},   // 512 MiB → 90 %
		{"9223372036854771712\n", 0, false}, // v1, no limit
		{"1152921504606846976", 0, false},   // 1<<60: no real limit
		{"1152921504606846975", 1037629354146162210, false},
		{"", 0, true},
		{"-1", 0, true},
		{"0", 0, true},
		{"512Mi", 0, true},
		{"99999999999999999999", 0, true}, // overflows int64
	} {
		got, err := FromCgroup(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("FromCgroup(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}
