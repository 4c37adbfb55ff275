package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"spillway/engine/simaws/fleet"
)

// profilesPath is where the Bedrock control plane keeps inference
// profiles: CreateInferenceProfile (POST), ListInferenceProfiles (GET) and
// GetInferenceProfile (GET …/{id or ARN}).
const profilesPath = "/inference-profiles"

type createProfileRequest struct {
	Name        string `json:"inferenceProfileName"`
	Description string `json:"description"`
	ModelSource struct {
		CopyFrom string `json:"copyFrom"`
	} `json:"modelSource"`
}

// profileSummary is an application inference profile as the control plane
// describes it.
type profileSummary struct {
	ARN    string `json:"inferenceProfileArn"`
	ID     string `json:"inferenceProfileId"`
	Name   string `json:"inferenceProfileName"`
	Models []struct {
		ModelARN string `json:"modelArn"`
	} `json:"models"`
	Status string `json:"status"`
	Type   string `json:"type"`
}

func summaryOf(p fleet.ApplicationProfile) profileSummary {
	s := profileSummary{ARN: p.ARN, ID: p.ID, Name: p.Name, Status: "ACTIVE", Type: "APPLICATION"}
	s.Models = append(s.Models, struct {
		ModelARN string `json:"modelArn"`
	}{p.SourceARN})
	return s
}

// inferenceProfiles serves the part of the Bedrock control plane that makes
// application inference profiles, so that any AWS client can make one and
// call a model through its ARN.
func (s *Server) inferenceProfiles(q *request) {
	body, ok := s.signedBody(q, restProtocol)
	if !ok {
		return
	}
	s.releaseBody(q)
	rest := strings.TrimPrefix(strings.TrimPrefix(q.r.URL.EscapedPath(), profilesPath), "/")
	switch {
	case q.r.Method == http.MethodPost && rest == "":
		var req createProfileRequest
		if err := json.Unmarshal(body, &req); err != nil || req.Name == "" || req.ModelSource.CopyFrom == "" {
			writeJSONError(q, restProtocol, "ValidationException", "CreateInferenceProfile needs inferenceProfileName and modelSource.copyFrom (the ARN of a foundation model or of a system-defined inference profile).")
			return
		}
		if len(req.Name) > 64 || strings.Trim(req.Name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-") != "" {
			writeJSONError(q, restProtocol, "ValidationException", "1 validation error detected: Value at 'inferenceProfileName' failed to satisfy constraint: Member must satisfy regular expression pattern: ([0-9a-zA-Z:.][ _-]?)+ and have length at most 64")
			return
		}
		p, err := s.fleet.CreateApplicationProfile(q.account.Name, req.Name, req.ModelSource.CopyFrom)
		if err != nil {
			writeJSONError(q, restProtocol, err.Code, err.Message)
			return
		}
		writeJSON(q, restProtocol, http.StatusCreated, map[string]string{"inferenceProfileArn": p.ARN, "status": "ACTIVE"})
	case q.r.Method == http.MethodGet && rest == "":
		out := struct {
			Summaries []profileSummary `json:"inferenceProfileSummaries"`
		}{Summaries: []profileSummary{}}
		for _, p := range s.fleet.ApplicationProfiles(q.account.Name) {
			out.Summaries = append(out.Summaries, summaryOf(p))
		}
		writeJSON(q, restProtocol, http.StatusOK, out)
	case q.r.Method == http.MethodGet:
		id, _ := url.PathUnescape(rest)
		id = id[strings.LastIndexByte(id, '/')+1:] // an ARN's resource id, or the id itself
		for _, p := range s.fleet.ApplicationProfiles(q.account.Name) {
			if p.ID == id {
				writeJSON(q, restProtocol, http.StatusOK, summaryOf(p))
				return
			}
		}
		writeJSONError(q, restProtocol, "ResourceNotFoundException", fmt.Sprintf("Inference profile %s not found.", clip(id)))
	default:
		writeJSONError(q, restProtocol, "UnknownOperationException", fmt.Sprintf(
			"%s %s is not served; the emulator answers CreateInferenceProfile, ListInferenceProfiles and GetInferenceProfile", clip(q.r.Method), clip(q.r.URL.Path)))
	}
}
