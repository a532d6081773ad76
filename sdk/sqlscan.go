package sdk

import (
	"fmt"
	"strconv"
)

// Scan methods let FileRef, Decimal and UUID be database/sql scan targets
// (they implement sql.Scanner), so cells read through the kalamsql driver
// land in the SDK's exact types. They are plain methods: sdk does not import
// database/sql.

// Scan reads a FILE cell as the kalamsql driver returns it: the FileRef JSON
// as a string or []byte. NULL is an error (scan into *FileRef via a pointer
// or sql.Null[FileRef] to accept it).
func (f *FileRef) Scan(src any) error {
	switch v := src.(type) {
	case string:
		ref, err := ParseFileRef([]byte(v))
		*f = ref
		return err
	case []byte:
		ref, err := ParseFileRef(v)
		*f = ref
		return err
	case nil:
		return ErrNull
	}
	return fmt.Errorf("sdk: cannot scan %T into FileRef", src)
}

// Scan reads a decimal from its exact text (string or []byte) or from an
// int64; a float64 is refused because it would already have lost digits.
func (d *Decimal) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	case int64:
		s = strconv.FormatInt(v, 10)
	case nil:
		return ErrNull
	default:
		return fmt.Errorf("sdk: cannot scan %T into Decimal exactly", src)
	}
	v, err := ParseDecimal(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Scan reads a UUID from its canonical text (string or []byte).
func (u *UUID) Scan(src any) error {
	switch v := src.(type) {
	case string:
		return u.UnmarshalText([]byte(v))
	case []byte:
		return u.UnmarshalText(v)
	case nil:
		return ErrNull
	}
	return fmt.Errorf("sdk: cannot scan %T into UUID", src)
}
