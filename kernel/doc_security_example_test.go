package kernel_test

import (
	"fmt"

	"github.com/fltemu/fltemu/kernel"
)

// ExampleParseSDDL parses a port descriptor that also lets BUILTIN\Users connect, and prints
// it back in canonical form.
func ExampleParseSDDL() {
	sd, err := kernel.ParseSDDL("D:P(A;;0x1F0001;;;SY)(A;;0x1F0001;;;S-1-5-32-544)(A;;0x1;;;BU)S:(ML;;NW;;;LW)")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sd.SDDL())
	for _, ace := range sd.DACL.ACEs {
		fmt.Printf("%v %v %s\n", ace.Type, ace.Mask, ace.SID)
	}
	level, policy, _ := sd.MandatoryLabel()
	fmt.Println("label:", level, policy)

	_, err = kernel.ParseSDDL("D:P(A;;CC;;;SY)(X;;CC;;;BU)")
	fmt.Println(err)
	// Output:
	// D:P(A;;0x1f0001;;;SY)(A;;0x1f0001;;;BA)(A;;CC;;;BU)S:(ML;;NW;;;LW)
	// ACCESS_ALLOWED_ACE_TYPE 0x001F0001 S-1-5-18
	// ACCESS_ALLOWED_ACE_TYPE 0x001F0001 S-1-5-32-544
	// ACCESS_ALLOWED_ACE_TYPE 0x00000001 S-1-5-32-545
	// label: Low 0x00000001
	// sddl: at offset 16: unknown ACE type "X"
}

// ExampleAccessCheck asks who may connect to a port protected by the default descriptor of
// FltBuildDefaultSecurityDescriptor, and what a Low-integrity process gets once the driver
// lets Everyone in.
func ExampleAccessCheck() {
	sd := kernel.DefaultPortSecurityDescriptor(kernel.FLT_PORT_ALL_ACCESS)
	for _, tok := range []*kernel.Token{kernel.TokenSystem(), kernel.TokenAdmin(), kernel.TokenFilteredAdmin(), kernel.TokenLowIntegrity()} {
		granted, status := kernel.AccessCheck(sd, tok, kernel.FLT_PORT_CONNECT, kernel.PortGenericMapping())
		fmt.Printf("%-22s %v %v\n", tok.Name(), granted, status)
	}

	if err := sd.AddAccessAllowed(kernel.SIDEveryone(), kernel.FLT_PORT_ALL_ACCESS); err != nil {
		fmt.Println(err)
		return
	}
	low := kernel.TokenLowIntegrity()
	granted, status := kernel.AccessCheck(sd, low, kernel.FLT_PORT_CONNECT, kernel.PortGenericMapping())
	fmt.Println("low, connect:", granted, status)
	granted, status = kernel.AccessCheck(sd, low, kernel.FLT_PORT_ALL_ACCESS, kernel.PortGenericMapping())
	fmt.Println("low, all access:", granted, status)
	granted, status = kernel.AccessCheck(sd, low, kernel.MAXIMUM_ALLOWED, kernel.PortGenericMapping())
	fmt.Println("low, maximum allowed:", granted, status)
	// Output:
	// SYSTEM                 0x00000001 STATUS_SUCCESS (0x00000000)
	// admin (elevated)       0x00000001 STATUS_SUCCESS (0x00000000)
	// admin (filtered)       0x00000000 STATUS_ACCESS_DENIED (0xC0000022)
	// user (low integrity)   0x00000000 STATUS_ACCESS_DENIED (0xC0000022)
	// low, connect: 0x00000001 STATUS_SUCCESS (0x00000000)
	// low, all access: 0x00000000 STATUS_ACCESS_DENIED (0xC0000022)
	// low, maximum allowed: 0x00020001 STATUS_SUCCESS (0x00000000)
}
