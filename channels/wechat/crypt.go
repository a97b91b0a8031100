package wechat

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"

	"github.com/herald-msg/herald/channels"
)

// aesBlock is the padding block of WeChat's safe mode (PKCS#7 over 32 bytes).
const aesBlock = 32

// DecodeAESKey decodes the 43-character EncodingAESKey of the safe mode into its 32-byte key.
func DecodeAESKey(encodingAESKey string) ([]byte, error) {
	if len(encodingAESKey) != 43 {
		return nil, fmt.Errorf("must be 43 characters, got %d", len(encodingAESKey))
	}
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return nil, errors.New("is not the base64 of a 32-byte key")
	}
	return key, nil
}

// Encrypt seals msg for appid as WeChat's safe mode does: AES-256-CBC, the IV being the
// key's first 16 bytes, over 16 random bytes, the message length (4 bytes, big-endian), the
// message and the appid, PKCS#7-padded to 32 bytes; the result is base64.
func Encrypt(key []byte, appid string, msg []byte) (string, error) {
	var plain bytes.Buffer
	random := make([]byte, 16)
	if _, err := rand.Read(random); err != nil {
		return "", err
	}
	plain.Write(random)
	_ = binary.Write(&plain, binary.BigEndian, uint32(len(msg)))
	plain.Write(msg)
	plain.WriteString(appid)
	pad := aesBlock - plain.Len()%aesBlock
	plain.Write(bytes.Repeat([]byte{byte(pad)}, pad))
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	out := make([]byte, plain.Len())
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(out, plain.Bytes())
	return base64.StdEncoding.EncodeToString(out), nil
}

// Decrypt opens a safe-mode message and checks that it was sealed for appid.
func Decrypt(key []byte, appid, encrypted string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(encrypted)
	if err != nil {
		return nil, errors.New("Encrypt is not base64")
	}
	if len(raw) == 0 || len(raw)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("Encrypt of %d bytes is not whole AES blocks", len(raw))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	plain := make([]byte, len(raw))
	cipher.NewCBCDecrypter(block, key[:16]).CryptBlocks(plain, raw)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > aesBlock || pad > len(plain) {
		return nil, errors.New("bad padding")
	}
	plain = plain[:len(plain)-pad]
	if len(plain) < 20 {
		return nil, errors.New("message too short")
	}
	n := binary.BigEndian.Uint32(plain[16:20])
	if uint64(n) > uint64(len(plain)-20) {
		return nil, errors.New("message length beyond the data")
	}
	msg, from := plain[20:20+n], plain[20+n:]
	if subtle.ConstantTimeCompare(from, []byte(appid)) != 1 {
		return nil, errors.New("message sealed for another appid")
	}
	return msg, nil
}

// decryptPush checks msg_signature over the encrypted event and opens it.
func (p *Provider) decryptPush(q url.Values, body []byte) ([]byte, error) {
	if p.aesKey == nil {
		return nil, fmt.Errorf("wechat push: %w: encrypted push but no EncodingAESKey configured", channels.ErrUnverified)
	}
	var env Event
	if err := decodeXML(body, &env); err != nil {
		return nil, fmt.Errorf("wechat push: decoding XML: %w", err)
	}
	if env.Encrypt == "" {
		return nil, errors.New("wechat push: encrypted push without Encrypt")
	}
	if err := p.verifyQuery(q, "msg_signature", env.Encrypt); err != nil {
		return nil, err
	}
	msg, err := Decrypt(p.aesKey, p.cfg.AppID, env.Encrypt)
	if err != nil {
		return nil, fmt.Errorf("wechat push: %w: %v", channels.ErrUnverified, err)
	}
	return msg, nil
}

// decodeXML decodes a push whose root element is <xml>.
func decodeXML(body []byte, v *Event) error {
	var root struct {
		XMLName xml.Name
	}
	if err := xml.Unmarshal(body, &root); err != nil {
		return err
	}
	if root.XMLName.Local != "xml" {
		return fmt.Errorf("root element <%s>, want <xml>", root.XMLName.Local)
	}
	return xml.Unmarshal(body, v)
}
