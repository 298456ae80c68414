package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// streamKeyHint is the seed's fixed hint, kept for existing frontends.
const streamKeyHint = "Use this as your Stream Key in OBS or your streaming software"

type ingestResponse struct {
	IngestEndpoint string `json:"ingestEndpoint"`
	StreamKey      string `json:"streamKey"`
	ServerURL      string `json:"serverUrl"`
	StreamKeyHint  string `json:"streamKeyHint"`
}

// getIngestDetails serves POST /functions/v1/get-ivs-ingest.
func (s *server) getIngestDetails(w http.ResponseWriter, r *http.Request) error {
	caller, err := s.authenticate(r)
	if err != nil {
		return err
	}
	showID, err := readShowID(r)
	if err != nil {
		return err
	}
	impersonate, err := impersonatedSeller(r)
	if err != nil {
		return err
	}
	if info := infoFrom(r.Context()); info != nil {
		info.showID = showID
	}
	d, err := s.ingest.IngestDetails(r.Context(), ingest.Request{
		Caller:              caller,
		ShowID:              showID,
		ImpersonateSellerID: impersonate,
	})
	if err != nil {
		return err
	}
	url := d.ServerURL()
	writeJSON(w, http.StatusOK, ingestResponse{
		IngestEndpoint: url,
		StreamKey:      d.StreamKey.Reveal(), // the one place a key leaves the service
		ServerURL:      url,
		StreamKeyHint:  streamKeyHint,
	})
	return nil
}

// authenticate verifies the request's bearer token.
func (s *server) authenticate(r *http.Request) (ingest.Caller, error) {
	header := strings.TrimSpace(r.Header.Get("Authorization"))
	if header == "" {
		return ingest.Caller{}, errMissingAuth
	}
	scheme, token, ok := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return ingest.Caller{}, errMalformedAuth
	}
	c, err := s.authn.Verify(r.Context(), token)
	if err != nil {
		return ingest.Caller{}, err
	}
	if info := infoFrom(r.Context()); info != nil {
		info.userID = c.UserID
	}
	return ingest.Caller{UserID: c.UserID, SessionID: c.SessionID}, nil
}

// readShowID reads {"showId": "<uuid>"} and returns the id in canonical form.
func readShowID(r *http.Request) (string, error) {
	raw, err := io.ReadAll(r.Body)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return "", errBodyTooLarge
	}
	if err != nil {
		return "", fmt.Errorf("%w: %w", errInvalidJSON, err)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(raw, &body); err != nil || body == nil {
		return "", errInvalidJSON
	}
	field, ok := body["showId"]
	if !ok || bytes.Equal(field, []byte("null")) {
		return "", errShowIDRequired
	}
	var id string
	if err := json.Unmarshal(field, &id); err != nil {
		return "", errShowIDNotUUID
	}
	if id == "" {
		return "", errShowIDRequired
	}
	canonical, ok := ingest.ParseID(id)
	if !ok {
		return "", errShowIDNotUUID
	}
	return canonical, nil
}

// impersonatedSeller reads X-Impersonate-Seller-Id; empty counts as absent.
func impersonatedSeller(r *http.Request) (string, error) {
	v := strings.TrimSpace(r.Header.Get("X-Impersonate-Seller-Id"))
	if v == "" {
		return "", nil
	}
	id, ok := ingest.ParseID(v)
	if !ok {
		return "", errImpersonateUUID
	}
	return id, nil
}

func healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz answers 200 when the dependencies answer within two seconds.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		return fmt.Errorf("%w: %w", errUnavailable, err)
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func notFound(w http.ResponseWriter, r *http.Request) error { return errNotFound }

func methodNotAllowed(allow string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", allow)
		return errMethodNotAllowed
	}
}

// writeJSON writes v as the JSON answer with status. Headers first: they
// cannot change once WriteHeader is called.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"Internal server error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
