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
	// (STREAM_KEY_MAX_AGE) and rotate-expired, on top of the others (when
	// the stored stream state is not recent enough to say).
	NeedExpiry
	// NeedStreamStatus is listing a region's live streams: reconcile-streams
	// and serve's periodic reconciliation of the stream status. Why always
	// required: reconcile-streams works on demand, whatever the
	// configuration. ListStreams names no resource: a policy grants it in a
	// statement of its own on Resource "*", never on the channel ARNs
	// (where it would be denied).
	NeedStreamStatus
)

// actions is the one list of IAM actions the service needs on IVS, by
// need: the adapter's calls (GetChannel, GetStreamKey, ListStreamKeys,
// CreateStreamKey, DeleteStreamKey, StopStream, Live's GetStream, and the
// reconciliation's ListStreams).
// CreateChannel is left out: only `ivs-ingest dev` calls it, on its
// emulator. The policy doctor prints, the Lambda template and the
// documentation are checked against it.
var actions = [...][]string{
	NeedKeys:         {"ivs:GetChannel", "ivs:ListStreamKeys", "ivs:GetStreamKey", "ivs:CreateStreamKey"},
	NeedRotation:     {"ivs:DeleteStreamKey", "ivs:StopStream"},
	NeedExpiry:       {"ivs:GetStream"},
	NeedStreamStatus: {"ivs:ListStreams"},
}

// Actions returns the IAM actions n adds.
func Actions(n Need) []string { return append([]string(nil), actions[n]...) }

// RequiredActions returns every IAM action the service calls on IVS, in the
// needs' order: those of NeedKeys and NeedRotation, NeedExpiry's when keys
// expire, and NeedStreamStatus's (on Resource "*": see NeedStreamStatus).
func RequiredActions(keyExpiry bool) []string {
	return append(ResourceActions(keyExpiry), actions[NeedStreamStatus]...)
}

// ResourceActions returns the IAM actions of RequiredActions that a policy
// grants on the channel and stream-key ARNs: all but NeedStreamStatus's.
func ResourceActions(keyExpiry bool) []string {
	out := Actions(NeedKeys)
	out = append(out, actions[NeedRotation]...)
	if keyExpiry {
		out = append(out, actions[NeedExpiry]...)
	}
	return out
}

// queueActions is the one list of IAM actions serve needs on the Amazon SQS
// queue of IVS_EVENTS_QUEUE_URL, only when it is set: long-polling it,
// deleting a message once applied, and handing a message back for
// redelivery. Why here, beside the IVS list: the queue carries IVS's events,
// and the policy that grants both is written from both lists. A policy
// grants them on that queue's ARN only, never on "*".
var queueActions = []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"}

// QueueActions returns the IAM actions the IVS events queue
// (IVS_EVENTS_QUEUE_URL) needs, on that queue's ARN.
func QueueActions() []string { return append([]string(nil), queueActions...) }
