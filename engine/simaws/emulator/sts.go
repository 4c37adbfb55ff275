package emulator

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// sts serves the STS Query protocol: a form body with Action and Version,
// an XML reply. Only GetCallerIdentity is needed to learn an account's id.
func (s *Server) sts(q *request) {
	body, problem := s.readBody(q, MaxLogsBodyBytes, "ValidationError")
	if problem != nil {
		if problem.code != "" {
			writeXMLError(q, status(problem.code), problem.code, problem.msg)
		}
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeXMLError(q, http.StatusBadRequest, "MalformedInput", fmt.Sprintf("form body does not parse: %v", err))
		return
	}
	if action := form.Get("Action"); action != "GetCallerIdentity" {
		writeXMLError(q, http.StatusBadRequest, "InvalidAction", fmt.Sprintf(
			"STS action %q is not served; the emulator answers GetCallerIdentity", clip(action)))
		return
	}
	if code, msg := s.authenticate(q); code != "" {
		writeXMLError(q, status(code), stsCodes[code], msg)
		return
	}
	type result struct {
		Arn     string `xml:"Arn"`
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
	}
	type response struct {
		XMLName   xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ GetCallerIdentityResponse"`
		Result    result   `xml:"GetCallerIdentityResult"`
		RequestID string   `xml:"ResponseMetadata>RequestId"`
	}
	a := q.account
	writeXML(q, http.StatusOK, response{
		Result: result{
			Arn:     fmt.Sprintf("arn:aws:sts::%s:assumed-role/spillway/simulated", a.AccountID),
			UserID:  "AROASPILLWAYSIMULATED:" + a.Name,
			Account: a.AccountID,
		},
		RequestID: q.id,
	})
}

// stsCodes are STS's names for the authentication errors the other
// protocols share.
var stsCodes = map[string]string{
	"MissingAuthenticationTokenException": "MissingAuthenticationToken",
	"IncompleteSignatureException":        "IncompleteSignature",
	"UnrecognizedClientException":         "InvalidClientTokenId",
	"InvalidSignatureException":           "SignatureDoesNotMatch",
}

func writeXMLError(q *request, status int, code, msg string) {
	type errorBody struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	type response struct {
		XMLName   xml.Name  `xml:"https://sts.amazonaws.com/doc/2011-06-15/ ErrorResponse"`
		Error     errorBody `xml:"Error"`
		RequestID string    `xml:"RequestId"`
	}
	writeXML(q, status, response{Error: errorBody{"Sender", code, msg}, RequestID: q.id})
}

func writeXML(q *request, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		panic(err) // our own reply types always marshal
	}
	b = append([]byte(xml.Header), b...)
	h := q.w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	writeReply(q, status, b)
}
