// Package streamstatus keeps each IVS channel's stream state true: live or
// offline, healthy or starving, since when. It is the second domain of
// ivs-ingest, beside the key rules of internal/ingest, and knows nothing of
// keys.
//
// Two sources feed it. IVS's EventBridge events (IVS Stream State Change,
// IVS Stream Health Change) arrive through POST /functions/v1/ivs-events, a
// direct Lambda invocation or an SQS queue, all ending in Service.Receive.
// EventBridge delivers at least once, late and out of order, so an event is
// applied only when it is newer than what is stored for its channel, and a
// redelivered event changes nothing. A reconciliation (Service.Reconcile)
// heals missed events from IVS's ListStreams, one replica at a time; a
// snapshot never overwrites an event newer than itself.
//
// The state is kept per channel in ivs_ingest.stream_state and, in the same
// transaction, in public.shows.stream_status of every show on the channel:
// "live" or "offline", NULL until an event or a reconciliation sets it.
package streamstatus
