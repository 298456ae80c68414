package ingest

// WaitBackground waits for the background checks s started: a test's hook,
// so that it waits for the event rather than sleeping.
func (s *Service) WaitBackground() { s.background.Wait() }
