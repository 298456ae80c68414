package ivs

// Need is a group of the service's features that calls IVS in the same way,
// and so needs the same IAM actions.
type Need int

const (
	// NeedKeys is reading a channel and finding or creating its key:
	// get-ivs-ingest and provision.
	NeedKeys Need = iota
	// NeedRotation is deleting a key and stopping the stream: rotation and
	// revocation, on top of NeedKeys.
	NeedRotation
	// NeedExpiry is asking whether a channel is live: key expiry
	// (STREAM_KEY_MAX_AGE) and rotate-expired, on top of the others.
	NeedExpiry
)

// actions is the one list of IAM actions the service needs on IVS, by
// need: the adapter's calls (GetChannel, GetStreamKey, ListStreamKeys,
// CreateStreamKey, DeleteStreamKey, StopStream, and Live's GetStream).
// CreateChannel is left out: only `ivs-ingest dev` calls it, on its
// emulator. The policy doctor prints, the Lambda template and the
// documentation are checked against it.
var actions = [...][]string{
	NeedKeys:     {"ivs:GetChannel", "ivs:ListStreamKeys", "ivs:GetStreamKey", "ivs:CreateStreamKey"},
	NeedRotation: {"ivs:DeleteStreamKey", "ivs:StopStream"},
	NeedExpiry:   {"ivs:GetStream"},
}

// Actions returns the IAM actions n adds.
func Actions(n Need) []string { return append([]string(nil), actions[n]...) }

// RequiredActions returns every IAM action the service calls on IVS: those
// of NeedKeys and NeedRotation, and NeedExpiry's when keys expire.
func RequiredActions(keyExpiry bool) []string {
	out := Actions(NeedKeys)
	out = append(out, actions[NeedRotation]...)
	if keyExpiry {
		out = append(out, actions[NeedExpiry]...)
	}
	return out
}
