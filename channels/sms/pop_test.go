package sms

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPercentEncode(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"AZaz09-_.~", "AZaz09-_.~"},
		{"a b", "a%20b"},
		{"*", "%2A"},
		{"+", "%2B"},
		{"/", "%2F"},
		{"=&", "%3D%26"},
		{`{"a":"b"}`, "%7B%22a%22%3A%22b%22%7D"},
		{"2016-02-23T12:46:24Z", "2016-02-23T12%3A46%3A24Z"},
		{"阿里", "%E9%98%BF%E9%87%8C"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, PercentEncode(tt.in), tt.in)
	}
}

// TestSignRPCDocumentedVector checks the example of Alibaba Cloud's signature documentation:
// DescribeRegions signed with AccessKey testid / testsecret.
func TestSignRPCDocumentedVector(t *testing.T) {
	t.Parallel()
	params := url.Values{}
	params.Set("TimeStamp", "2016-02-23T12:46:24Z")
	params.Set("Format", "XML")
	params.Set("AccessKeyId", "testid")
	params.Set("Action", "DescribeRegions")
	params.Set("SignatureMethod", "HMAC-SHA1")
	params.Set("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf")
	params.Set("Version", "2014-05-26")
	params.Set("SignatureVersion", "1.0")
	params.Set("Signature", "ignored")

	toSign := StringToSign("GET", params)
	require.Equal(t, "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML"+
		"%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"+
		"%26SignatureVersion%3D1.0%26TimeStamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26", toSign)
	require.Equal(t, "CT9X0VtwR86fNWSnsc6v8YGOjuE=", SignRPC("testsecret", toSign))
}

func TestV3CanonicalRequest(t *testing.T) {
	t.Parallel()
	q := url.Values{"RegionId": {"cn-shanghai"}, "ImageId": {"win 2019"}}
	headers := map[string]string{"x-acs-action": "RunInstances", "host": "ecs.aliyuncs.com", "x-acs-date": " 2023-10-26T09:01:01Z "}
	canonical, signed := V3CanonicalRequest("post", "", q, headers, "e3b0")
	require.Equal(t, "host;x-acs-action;x-acs-date", signed)
	require.Equal(t, "POST\n/\nImageId=win%202019&RegionId=cn-shanghai\n"+
		"host:ecs.aliyuncs.com\nx-acs-action:RunInstances\nx-acs-date:2023-10-26T09:01:01Z\n\n"+
		"host;x-acs-action;x-acs-date\ne3b0", canonical)
	require.Len(t, SignV3("secret", canonical), 64)
	require.NotEqual(t, SignV3("secret", canonical), SignV3("other", canonical))
}
