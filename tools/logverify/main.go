// Command logverify checks Docket's audit log the way a witness or auditor would, with
// the transparency-dev reference code only: the checkpoint's signature with the
// signed-note verifier (golang.org/x/mod/sumdb/note via formats/log), and inclusion
// and consistency proofs with merkle/proof (RFC 6962 hashing).
//
//	logverify -url http://127.0.0.1:8083 -vkey 'docket.example/audit+1a2b3c4d+AT...' \
//	    [-checkpoint FILE] [-inclusion INDEX=LEAFHASHHEX]... [-consistent-with FILE]... \
//	    [-save FILE]
//
// Without -checkpoint the latest checkpoint is fetched from GET /v1/log/checkpoint.
// Each -inclusion proves that the leaf with that hash sits at that index of the
// checkpoint's tree; each -consistent-with names an older checkpoint (as saved with
// -save) that the checkpoint's tree must extend. The checkpoint's origin must be the
// key's name. On success it prints one JSON line (origin, size, root, counts) and exits
// 0; on any failure it prints one line to stderr and exits 1 (2 for bad usage).
package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

type inclusionProof struct {
	LeafIndex uint64   `json:"leaf_index"`
	TreeSize  uint64   `json:"tree_size"`
	LeafHash  string   `json:"leaf_hash"`
	AuditPath []string `json:"audit_path"`
}

type consistencyProof struct {
	First           uint64   `json:"first"`
	Second          uint64   `json:"second"`
	ConsistencyPath []string `json:"consistency_path"`
}

type summary struct {
	Origin      string `json:"origin"`
	Size        uint64 `json:"size"`
	Root        string `json:"root"`
	Inclusion   int    `json:"inclusion_proofs_verified"`
	Consistency int    `json:"consistency_proofs_verified"`
}

var client = &http.Client{Timeout: 30 * time.Second}

func main() {
	var (
		base           = flag.String("url", "", "Docket audit's base URL (needed for proofs and without -checkpoint)")
		vkey           = flag.String("vkey", "", "the log's signed-note verifier key, name+hash+key")
		checkpointFile = flag.String("checkpoint", "", "verify this checkpoint file instead of fetching the latest")
		save           = flag.String("save", "", "write the verified checkpoint to this file")
		inclusions     repeated
		olders         repeated
	)
	flag.Var(&inclusions, "inclusion", "INDEX=LEAFHASHHEX: a leaf that must be in the checkpoint's tree (repeatable)")
	flag.Var(&olders, "consistent-with", "an older checkpoint file the tree must extend (repeatable)")
	flag.Parse()
	if *vkey == "" || (*base == "" && (*checkpointFile == "" || len(inclusions)+len(olders) > 0)) {
		fmt.Fprintln(os.Stderr, "logverify: need -vkey, and -url unless only -checkpoint is checked")
		os.Exit(2)
	}
	result, err := run(*base, *vkey, *checkpointFile, *save, inclusions, olders)
	if err != nil {
		fmt.Fprintf(os.Stderr, "logverify: %v\n", err)
		os.Exit(1)
	}
	out, _ := json.Marshal(result)
	fmt.Println(string(out))
}

func run(base, vkey, checkpointFile, save string, inclusions, olders []string) (*summary, error) {
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("verifier key: %v", err)
	}
	var raw []byte
	if checkpointFile != "" {
		raw, err = os.ReadFile(checkpointFile)
	} else {
		raw, err = get(base, "/v1/log/checkpoint", nil)
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %v", err)
	}
	checkpoint, err := open(raw, verifier)
	if err != nil {
		return nil, err
	}
	result := &summary{
		Origin: checkpoint.Origin,
		Size:   checkpoint.Size,
		Root:   base64.StdEncoding.EncodeToString(checkpoint.Hash),
	}
	for _, claim := range inclusions {
		if err := checkInclusion(base, checkpoint, claim); err != nil {
			return nil, fmt.Errorf("inclusion %s: %v", claim, err)
		}
		result.Inclusion++
	}
	for _, file := range olders {
		if err := checkConsistency(base, verifier, checkpoint, file); err != nil {
			return nil, fmt.Errorf("consistency with %s: %v", file, err)
		}
		result.Consistency++
	}
	if save != "" {
		if err := os.WriteFile(save, raw, 0o644); err != nil {
			return nil, err
		}
	}
	return result, nil
}

// open verifies the note's signature by the log's key and parses its checkpoint body.
func open(raw []byte, verifier note.Verifier) (*log.Checkpoint, error) {
	checkpoint, _, _, err := log.ParseCheckpoint(raw, verifier.Name(), verifier)
	if err != nil {
		return nil, fmt.Errorf("checkpoint refused: %v", err)
	}
	return checkpoint, nil
}

func checkInclusion(base string, checkpoint *log.Checkpoint, claim string) error {
	index, leafHex, found := strings.Cut(claim, "=")
	if !found {
		return errors.New("expected INDEX=LEAFHASHHEX")
	}
	leafIndex, err := strconv.ParseUint(index, 10, 64)
	if err != nil {
		return fmt.Errorf("leaf index: %v", err)
	}
	leafHash, err := hex.DecodeString(leafHex)
	if err != nil {
		return fmt.Errorf("leaf hash: %v", err)
	}
	var answer inclusionProof
	query := url.Values{
		"leaf_index": {strconv.FormatUint(leafIndex, 10)},
		"tree_size":  {strconv.FormatUint(checkpoint.Size, 10)},
	}
	if err := getJSON(base, "/v1/audit/proof/inclusion", query, &answer); err != nil {
		return err
	}
	if answer.LeafIndex != leafIndex || answer.TreeSize != checkpoint.Size {
		return fmt.Errorf("the log answered a proof for leaf %d of size %d", answer.LeafIndex, answer.TreeSize)
	}
	path, err := hashes(answer.AuditPath)
	if err != nil {
		return err
	}
	return proof.VerifyInclusion(rfc6962.DefaultHasher, leafIndex, checkpoint.Size, leafHash, path, checkpoint.Hash)
}

func checkConsistency(base string, verifier note.Verifier, checkpoint *log.Checkpoint, file string) error {
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	older, err := open(raw, verifier)
	if err != nil {
		return err
	}
	if older.Size > checkpoint.Size {
		return fmt.Errorf("the older checkpoint has %d leaves, more than %d", older.Size, checkpoint.Size)
	}
	var path [][]byte
	if older.Size > 0 {
		var answer consistencyProof
		query := url.Values{
			"first":  {strconv.FormatUint(older.Size, 10)},
			"second": {strconv.FormatUint(checkpoint.Size, 10)},
		}
		if err := getJSON(base, "/v1/audit/proof/consistency", query, &answer); err != nil {
			return err
		}
		if answer.First != older.Size || answer.Second != checkpoint.Size {
			return fmt.Errorf("the log answered a proof from %d to %d", answer.First, answer.Second)
		}
		if path, err = hashes(answer.ConsistencyPath); err != nil {
			return err
		}
	}
	return proof.VerifyConsistency(rfc6962.DefaultHasher, older.Size, checkpoint.Size, path, older.Hash, checkpoint.Hash)
}

func hashes(encoded []string) ([][]byte, error) {
	decoded := make([][]byte, 0, len(encoded))
	for _, value := range encoded {
		hash, err := hex.DecodeString(value)
		if err != nil {
			return nil, fmt.Errorf("proof hash %q: %v", value, err)
		}
		decoded = append(decoded, hash)
	}
	return decoded, nil
}

func get(base, path string, query url.Values) ([]byte, error) {
	target := strings.TrimRight(base, "/") + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	response, err := client.Get(target)
	if err != nil {
		return nil, err
	}
	defer response.Body.Close()
	body, err := io.ReadAll(io.LimitReader(response.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if response.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s answered %d", path, response.StatusCode)
	}
	return body, nil
}

func getJSON(base, path string, query url.Values, into any) error {
	body, err := get(base, path, query)
	if err != nil {
		return err
	}
	return json.Unmarshal(body, into)
}
