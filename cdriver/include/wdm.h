/*
 * wdm.h -- fltemu's stand-in for the WDK header of the same name.
 *
 * Written for fltemu from the WDK's documented names, types and signatures; it is not the
 * WDK's header. It declares what a file system minifilter uses around the filter manager:
 * basic types with Windows' LLP64 sizes, NTSTATUS codes, strings, pool, events, locks,
 * interlocked operations, IRQL, SEH keywords and debug output. The routines are implemented
 * by the fltemu runtime (package github.com/fltemu/fltemu/cdriver), which hosts the driver
 * inside the emulated filter manager under `go test`.
 *
 * WCHAR is the compiler's wchar_t, so that L"..." literals are WCHAR strings: a wide literal
 * is one token of type wchar_t[], which no macro or cast can turn into 16-bit units. With
 * -fshort-wchar it is 16 bits as on Windows, and every structure has its Windows layout. The
 * go command refuses that flag in a #cgo line (it is not on its allowlist), so it comes from
 * the environment: CGO_CFLAGS="-O2 -g -fshort-wchar". Without it WCHAR is 32 bits and the
 * runtime refuses to load the driver unless its Go file allows it (cdriver's AllowWCHAR32):
 * the runtime converts the strings it hands over, but a structure holding a WCHAR would
 * differ from Windows. long is 64 bits on Linux, so no Windows type here is built on long.
 */
#ifndef FLTEMU_WDM_H
#define FLTEMU_WDM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FLTEMU_WCHAR_IS_16_BITS (__SIZEOF_WCHAR_T__ == 2)

/* Every C file of a driver and the runtime must agree on these headers and on the size of
 * WCHAR: each file that includes this header references a symbol named after the headers' ID
 * (a hash of their text, kept by the test of package cdriver/include) and its own WCHAR size,
 * and the runtime defines only its own, so a file compiled with a stale copy of the headers
 * (run cdrivergen again) or with other CGO_CFLAGS fails the link, naming the symbol, instead
 * of exchanging structures of another layout at run time. */
#define FLTEMU_HEADERS_ID 82ad64b8
#define FLTEMU_ABI_CAT_(a, b, c) a##b##c
#define FLTEMU_ABI_CAT(a, b, c) FLTEMU_ABI_CAT_(a, b, c)
#if FLTEMU_WCHAR_IS_16_BITS
#define FLTEMU_ABI FLTEMU_ABI_CAT(fltemu_headers_, FLTEMU_HEADERS_ID, _16_bit_WCHAR__if_undefined_rerun_cdrivergen_and_build_every_C_file_with_the_same_CGO_CFLAGS)
#else
#define FLTEMU_ABI FLTEMU_ABI_CAT(fltemu_headers_, FLTEMU_HEADERS_ID, _32_bit_WCHAR__if_undefined_rerun_cdrivergen_and_build_every_C_file_with_the_same_CGO_CFLAGS)
#endif
extern const int FLTEMU_ABI;
static const int *const fltemu_abi_check __attribute__((used, unused)) = &FLTEMU_ABI;

#ifdef __cplusplus
extern "C" {
#endif

/* ---- calling conventions, SAL, __declspec, pragmas ---------------------------------------- */

#define NTAPI
#define CONST const
#define IN
#define OUT
#define OPTIONAL
#define NTSYSAPI
#define NTKERNELAPI
#define FLTAPI
#define __stdcall
#define __cdecl
#define __fastcall
#define WINAPI
#define CALLBACK
#define FORCEINLINE static inline __attribute__((always_inline))
#define DECLSPEC_NOINLINE __attribute__((noinline))
#define __forceinline inline __attribute__((always_inline))
#define __inline inline
#define EXTERN_C extern
#define __declspec(x)
#define DECLSPEC_ALIGN(x) __attribute__((aligned(x)))
#define POINTER_ALIGNMENT __attribute__((aligned(8)))
#define UNREFERENCED_PARAMETER(P) ((void)(P))
#define DBG_UNREFERENCED_PARAMETER(P) ((void)(P))
#define DBG_UNREFERENCED_LOCAL_VARIABLE(V) ((void)(V))
#define ARGUMENT_PRESENT(p) ((p) != NULL)
#define HandleToUlong(h) ((ULONG)(ULONG_PTR)(h))
#define HandleToULong(h) HandleToUlong(h)
#define UlongToHandle(u) ((HANDLE)(ULONG_PTR)(u))
#define PtrToUlong(p) ((ULONG)(ULONG_PTR)(p))
#define UlongToPtr(u) ((PVOID)(ULONG_PTR)(u))
#define C_ASSERT(e) _Static_assert(e, #e)
#define FIELD_OFFSET(type, field) ((LONG)offsetof(type, field))
#define RTL_FIELD_SIZE(type, field) (sizeof(((type *)0)->field))
#define RTL_NUMBER_OF(a) (sizeof(a) / sizeof((a)[0]))
#define ARRAYSIZE(a) RTL_NUMBER_OF(a)
#define CONTAINING_RECORD(address, type, field) ((type *)((char *)(address) - offsetof(type, field)))
#define ALIGN_DOWN_BY(length, alignment) ((ULONG_PTR)(length) & ~((ULONG_PTR)(alignment) - 1))
#define ALIGN_UP_BY(length, alignment) (ALIGN_DOWN_BY(((ULONG_PTR)(length) + (alignment) - 1), alignment))
#define min(a, b) (((a) < (b)) ? (a) : (b))
#define max(a, b) (((a) > (b)) ? (a) : (b))
#define FlagOn(_F, _SF) ((_F) & (_SF))
#define BooleanFlagOn(F, SF) ((BOOLEAN)(((F) & (SF)) != 0))
#define SetFlag(_F, _SF) ((_F) |= (_SF))
#define ClearFlag(_F, _SF) ((_F) &= ~(_SF))

/* #pragma alloc_text, #pragma warning, ... : gcc ignores unknown pragmas; keep it quiet. */
#pragma GCC diagnostic ignored "-Wunknown-pragmas"
/* Pool tags are multi-character constants ('nacS'), as in every WDK driver. */
#pragma GCC diagnostic ignored "-Wmultichar"

/* SAL annotations: accepted, and mean nothing here. */
#define _In_
#define _In_opt_
#define _Out_
#define _Out_opt_
#define _Inout_
#define _Inout_opt_
#define _In_z_
#define _In_opt_z_
#define _Outptr_
#define _Outptr_opt_
#define _Outptr_result_maybenull_
#define _Outptr_opt_result_maybenull_
#define _Flt_CompletionContext_Outptr_
#define _Flt_ConnectionCookie_Outptr_
#define _Outptr_result_buffer_(s)
#define _Outptr_result_bytebuffer_(s)
#define _In_reads_(s)
#define _In_reads_opt_(s)
#define _In_reads_bytes_(s)
#define _In_reads_bytes_opt_(s)
#define _Out_writes_(s)
#define _Out_writes_opt_(s)
#define _Out_writes_bytes_(s)
#define _Out_writes_bytes_opt_(s)
#define _Out_writes_bytes_to_(s, c)
#define _Out_writes_bytes_to_opt_(s, c)
#define _Out_writes_bytes_all_(s)
#define _Inout_updates_(s)
#define _Inout_updates_bytes_(s)
#define _Field_size_(s)
#define _Field_size_bytes_(s)
#define _Field_size_bytes_part_(s, c)
#define _Field_range_(a, b)
#define _Post_writable_byte_size_(s)
#define _When_(c, a)
#define _Success_(c)
#define _Check_return_
#define _Must_inspect_result_
#define _Ret_maybenull_
#define _Ret_notnull_
#define _Ret_range_(a, b)
#define _Analysis_assume_(e)
#define _Function_class_(n)
#define _IRQL_requires_(l)
#define _IRQL_requires_max_(l)
#define _IRQL_requires_min_(l)
#define _IRQL_requires_same_
#define _IRQL_raises_(l)
#define _IRQL_saves_
#define _IRQL_restores_
#define _IRQL_saves_global_(k, v)
#define _IRQL_restores_global_(k, v)
#define _IRQL_always_function_min_(l)
#define _IRQL_always_function_max_(l)
#define _Requires_lock_held_(l)
#define _Requires_lock_not_held_(l)
#define _Acquires_lock_(l)
#define _Releases_lock_(l)
#define _Acquires_exclusive_lock_(l)
#define _Acquires_shared_lock_(l)
#define _Releases_exclusive_lock_(l)
#define _Releases_shared_lock_(l)
#define _Guarded_by_(l)
#define _Interlocked_
#define _Interlocked_operand_
#define _Dispatch_type_(t)
#define _Kernel_float_saved_
#define _Kernel_float_restored_
#define _Null_terminated_
#define _NullNull_terminated_
#define _At_(t, a)
#define _Pre_
#define _Post_
#define _Notnull_
#define _Maybenull_
#define _Pre_notnull_
#define _Post_invalid_
#define _Frees_ptr_
#define _Frees_ptr_opt_
#define _Reserved_
#define _Printf_format_string_
#define _Strict_type_match_
#define _Enum_is_bitflag_
#define __drv_allocatesMem(k)
#define __drv_freesMem(k)
#define __drv_aliasesMem
#define __drv_dispatchType(t)
#define __drv_maxIRQL(l)
#define __drv_when(c, a)
#define __drv_reportError(m)
#define __deref_out
#define __out_bcount(s)
#define __in_bcount(s)
#define __in
#define __out
#define __inout
#define __in_opt
#define __out_opt

/* ---- basic types (LLP64: LONG and ULONG are 32 bits, pointers 64) --------------------------- */

typedef void VOID, *PVOID, **PPVOID;
typedef const void *PCVOID;
typedef char CHAR, *PCHAR, *PSTR, *LPSTR;
typedef const char *PCSTR, *LPCSTR, *PCSZ;
typedef unsigned char UCHAR, *PUCHAR, BYTE, *PBYTE, BOOLEAN, *PBOOLEAN;
typedef short SHORT, *PSHORT, CSHORT;
typedef unsigned short USHORT, *PUSHORT, WORD;
typedef int32_t LONG, *PLONG, INT, *PINT;
typedef uint32_t ULONG, *PULONG, UINT, DWORD, *PDWORD, LOGICAL, *PLOGICAL, BOOL;
typedef int64_t LONGLONG, *PLONGLONG, LONG64, *PLONG64, INT64;
typedef uint64_t ULONGLONG, *PULONGLONG, ULONG64, *PULONG64, DWORD64, UINT64;
typedef int64_t LONG_PTR, *PLONG_PTR, INT_PTR, SSIZE_T;
typedef uint64_t ULONG_PTR, *PULONG_PTR, UINT_PTR, SIZE_T, *PSIZE_T, DWORD_PTR;
typedef wchar_t WCHAR, *PWCHAR, *PWSTR, *LPWSTR, *PWCH;
typedef const wchar_t *PCWSTR, *LPCWSTR, *PCWCH;
typedef LONG NTSTATUS, *PNTSTATUS;
typedef ULONG ACCESS_MASK, *PACCESS_MASK;
typedef ULONG DEVICE_TYPE;
typedef ULONG SECURITY_INFORMATION;
typedef PVOID HANDLE, *PHANDLE;
typedef UCHAR KIRQL, *PKIRQL;
typedef char CCHAR;
typedef CCHAR KPROCESSOR_MODE;
typedef LONG KPRIORITY;
typedef ULONG CLONG;
typedef ULONG_PTR KAFFINITY;

#define TRUE 1
#define FALSE 0
#ifndef NULL
#define NULL ((void *)0)
#endif
#define MAXULONG 0xffffffffU
#define MAXUSHORT 0xffff
#define MAXLONG 0x7fffffff
#define ANSI_NULL ((CHAR)0)
#define UNICODE_NULL ((WCHAR)0)

typedef union _LARGE_INTEGER {
    struct {
        ULONG LowPart;
        LONG HighPart;
    };
    struct {
        ULONG LowPart;
        LONG HighPart;
    } u;
    LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;

typedef union _ULARGE_INTEGER {
    struct {
        ULONG LowPart;
        ULONG HighPart;
    };
    struct {
        ULONG LowPart;
        ULONG HighPart;
    } u;
    ULONGLONG QuadPart;
} ULARGE_INTEGER, *PULARGE_INTEGER;

typedef struct _LIST_ENTRY {
    struct _LIST_ENTRY *Flink;
    struct _LIST_ENTRY *Blink;
} LIST_ENTRY, *PLIST_ENTRY;

typedef struct _GUID {
    ULONG Data1;
    USHORT Data2;
    USHORT Data3;
    UCHAR Data4[8];
} GUID, *PGUID;

/* ---- NTSTATUS --------------------------------------------------------------------------------- */

#define NT_SUCCESS(Status) (((NTSTATUS)(Status)) >= 0)
#define NT_INFORMATION(Status) ((((ULONG)(Status)) >> 30) == 1)
#define NT_WARNING(Status) ((((ULONG)(Status)) >> 30) == 2)
#define NT_ERROR(Status) ((((ULONG)(Status)) >> 30) == 3)

#define STATUS_SUCCESS                   ((NTSTATUS)0x00000000L)
#define STATUS_WAIT_0                    ((NTSTATUS)0x00000000L)
#define STATUS_ABANDONED_WAIT_0          ((NTSTATUS)0x00000080L)
#define STATUS_USER_APC                  ((NTSTATUS)0x000000C0L)
#define STATUS_ALERTED                   ((NTSTATUS)0x00000101L)
#define STATUS_TIMEOUT                   ((NTSTATUS)0x00000102L)
#define STATUS_PENDING                   ((NTSTATUS)0x00000103L)
#define STATUS_REPARSE                   ((NTSTATUS)0x00000104L)
#define STATUS_MORE_ENTRIES              ((NTSTATUS)0x00000105L)
#define STATUS_BUFFER_OVERFLOW           ((NTSTATUS)0x80000005L)
#define STATUS_NO_MORE_ENTRIES           ((NTSTATUS)0x8000001AL)
#define STATUS_UNSUCCESSFUL              ((NTSTATUS)0xC0000001L)
#define STATUS_NOT_IMPLEMENTED           ((NTSTATUS)0xC0000002L)
#define STATUS_INVALID_INFO_CLASS        ((NTSTATUS)0xC0000003L)
#define STATUS_INFO_LENGTH_MISMATCH      ((NTSTATUS)0xC0000004L)
#define STATUS_ACCESS_VIOLATION          ((NTSTATUS)0xC0000005L)
#define STATUS_INVALID_HANDLE            ((NTSTATUS)0xC0000008L)
#define STATUS_INVALID_PARAMETER         ((NTSTATUS)0xC000000DL)
#define STATUS_NO_SUCH_DEVICE            ((NTSTATUS)0xC000000EL)
#define STATUS_NO_SUCH_FILE              ((NTSTATUS)0xC000000FL)
#define STATUS_INVALID_DEVICE_REQUEST    ((NTSTATUS)0xC0000010L)
#define STATUS_END_OF_FILE               ((NTSTATUS)0xC0000011L)
#define STATUS_NO_MEMORY                 ((NTSTATUS)0xC0000017L)
#define STATUS_ACCESS_DENIED             ((NTSTATUS)0xC0000022L)
#define STATUS_BUFFER_TOO_SMALL          ((NTSTATUS)0xC0000023L)
#define STATUS_OBJECT_TYPE_MISMATCH      ((NTSTATUS)0xC0000024L)
#define STATUS_OBJECT_NAME_INVALID       ((NTSTATUS)0xC0000033L)
#define STATUS_OBJECT_NAME_NOT_FOUND     ((NTSTATUS)0xC0000034L)
#define STATUS_OBJECT_NAME_COLLISION     ((NTSTATUS)0xC0000035L)
#define STATUS_PORT_DISCONNECTED         ((NTSTATUS)0xC0000037L)
#define STATUS_OBJECT_PATH_NOT_FOUND     ((NTSTATUS)0xC000003AL)
#define STATUS_OBJECT_PATH_SYNTAX_BAD    ((NTSTATUS)0xC000003BL)
#define STATUS_SHARING_VIOLATION         ((NTSTATUS)0xC0000043L)
#define STATUS_DELETE_PENDING            ((NTSTATUS)0xC0000056L)
#define STATUS_INSUFFICIENT_RESOURCES    ((NTSTATUS)0xC000009AL)
#define STATUS_FILE_IS_A_DIRECTORY       ((NTSTATUS)0xC00000BAL)
#define STATUS_NOT_SUPPORTED             ((NTSTATUS)0xC00000BBL)
#define STATUS_INTERNAL_ERROR            ((NTSTATUS)0xC00000E5L)
#define STATUS_INVALID_PARAMETER_1       ((NTSTATUS)0xC00000EFL)
#define STATUS_INVALID_PARAMETER_2       ((NTSTATUS)0xC00000F0L)
#define STATUS_INVALID_PARAMETER_3       ((NTSTATUS)0xC00000F1L)
#define STATUS_NOT_A_DIRECTORY           ((NTSTATUS)0xC0000103L)
#define STATUS_IMAGE_ALREADY_LOADED      ((NTSTATUS)0xC000010EL)
#define STATUS_CANCELLED                 ((NTSTATUS)0xC0000120L)
#define STATUS_INVALID_BUFFER_SIZE       ((NTSTATUS)0xC0000206L)
#define STATUS_CONNECTION_REFUSED        ((NTSTATUS)0xC0000236L)
#define STATUS_NOT_FOUND                 ((NTSTATUS)0xC0000225L)
#define STATUS_IO_TIMEOUT                ((NTSTATUS)0xC00000B5L)
#define STATUS_INVALID_DEVICE_STATE      ((NTSTATUS)0xC0000184L)
#define STATUS_DATA_ERROR                ((NTSTATUS)0xC000003EL)
#define STATUS_FLT_NO_HANDLER_DEFINED    ((NTSTATUS)0xC01C0001L)
#define STATUS_FLT_CONTEXT_ALREADY_DEFINED ((NTSTATUS)0xC01C0002L)
#define STATUS_FLT_INVALID_ASYNCHRONOUS_REQUEST ((NTSTATUS)0xC01C0003L)
#define STATUS_FLT_DISALLOW_FAST_IO      ((NTSTATUS)0xC01C0004L)
#define STATUS_FLT_INVALID_NAME_REQUEST  ((NTSTATUS)0xC01C0005L)
#define STATUS_FLT_NOT_SAFE_TO_POST_OPERATION ((NTSTATUS)0xC01C0006L)
#define STATUS_FLT_NOT_INITIALIZED       ((NTSTATUS)0xC01C0007L)
#define STATUS_FLT_FILTER_NOT_READY      ((NTSTATUS)0xC01C0008L)
#define STATUS_FLT_POST_OPERATION_CLEANUP ((NTSTATUS)0xC01C0009L)
#define STATUS_FLT_INTERNAL_ERROR        ((NTSTATUS)0xC01C000AL)
#define STATUS_FLT_DELETING_OBJECT       ((NTSTATUS)0xC01C000BL)
#define STATUS_FLT_MUST_BE_NONPAGED_POOL ((NTSTATUS)0xC01C000CL)
#define STATUS_FLT_DUPLICATE_ENTRY       ((NTSTATUS)0xC01C000DL)
#define STATUS_FLT_CBDQ_DISABLED         ((NTSTATUS)0xC01C000EL)
#define STATUS_FLT_DO_NOT_ATTACH         ((NTSTATUS)0xC01C000FL)
#define STATUS_FLT_DO_NOT_DETACH         ((NTSTATUS)0xC01C0010L)
#define STATUS_FLT_INSTANCE_ALTITUDE_COLLISION ((NTSTATUS)0xC01C0011L)
#define STATUS_FLT_INSTANCE_NAME_COLLISION ((NTSTATUS)0xC01C0012L)
#define STATUS_FLT_FILTER_NOT_FOUND      ((NTSTATUS)0xC01C0013L)
#define STATUS_FLT_VOLUME_NOT_FOUND      ((NTSTATUS)0xC01C0014L)
#define STATUS_FLT_INSTANCE_NOT_FOUND    ((NTSTATUS)0xC01C0015L)
#define STATUS_FLT_CONTEXT_ALLOCATION_NOT_FOUND ((NTSTATUS)0xC01C0016L)
#define STATUS_FLT_INVALID_CONTEXT_REGISTRATION ((NTSTATUS)0xC01C0017L)
#define STATUS_FLT_NAME_CACHE_MISS       ((NTSTATUS)0xC01C0018L)
#define STATUS_FLT_NO_DEVICE_OBJECT      ((NTSTATUS)0xC01C0019L)
#define STATUS_FLT_VOLUME_ALREADY_MOUNTED ((NTSTATUS)0xC01C001AL)
#define STATUS_FLT_ALREADY_ENLISTED      ((NTSTATUS)0xC01C001BL)
#define STATUS_FLT_CONTEXT_ALREADY_LINKED ((NTSTATUS)0xC01C001CL)
#define STATUS_FLT_NO_WAITER_FOR_REPLY   ((NTSTATUS)0xC01C0020L)

/* ---- strings ---------------------------------------------------------------------------------- */

typedef struct _UNICODE_STRING {
    USHORT Length;        /* bytes, without a terminating NUL */
    USHORT MaximumLength; /* bytes */
    PWCH Buffer;
} UNICODE_STRING, *PUNICODE_STRING;
typedef const UNICODE_STRING *PCUNICODE_STRING;

typedef struct _STRING {
    USHORT Length;
    USHORT MaximumLength;
    PCHAR Buffer;
} STRING, *PSTRING, ANSI_STRING, *PANSI_STRING, OEM_STRING, *POEM_STRING;
typedef const STRING *PCANSI_STRING;

#define RTL_CONSTANT_STRING(s) { sizeof(s) - sizeof((s)[0]), sizeof(s), (void *)(s) }
#define DECLARE_CONST_UNICODE_STRING(_var, _string) \
    const WCHAR _var##_buffer[] = _string;           \
    const UNICODE_STRING _var = { sizeof(_string) - sizeof(WCHAR), sizeof(_string), (PWCH)_var##_buffer }
#define DECLARE_UNICODE_STRING_SIZE(_var, _size) \
    WCHAR _var##_buffer[_size];                  \
    UNICODE_STRING _var = { 0, (_size) * sizeof(WCHAR), _var##_buffer }

NTSYSAPI VOID NTAPI RtlInitUnicodeString(_Out_ PUNICODE_STRING DestinationString, _In_opt_z_ PCWSTR SourceString);
NTSYSAPI NTSTATUS NTAPI RtlInitUnicodeStringEx(_Out_ PUNICODE_STRING DestinationString, _In_opt_z_ PCWSTR SourceString);
NTSYSAPI VOID NTAPI RtlInitAnsiString(_Out_ PANSI_STRING DestinationString, _In_opt_z_ PCSZ SourceString);
NTSYSAPI VOID NTAPI RtlCopyUnicodeString(_Inout_ PUNICODE_STRING DestinationString, _In_opt_ PCUNICODE_STRING SourceString);
NTSYSAPI NTSTATUS NTAPI RtlAppendUnicodeStringToString(_Inout_ PUNICODE_STRING Destination, _In_ PCUNICODE_STRING Source);
NTSYSAPI NTSTATUS NTAPI RtlAppendUnicodeToString(_Inout_ PUNICODE_STRING Destination, _In_opt_z_ PCWSTR Source);
NTSYSAPI LONG NTAPI RtlCompareUnicodeString(_In_ PCUNICODE_STRING String1, _In_ PCUNICODE_STRING String2, _In_ BOOLEAN CaseInSensitive);
NTSYSAPI BOOLEAN NTAPI RtlEqualUnicodeString(_In_ PCUNICODE_STRING String1, _In_ PCUNICODE_STRING String2, _In_ BOOLEAN CaseInSensitive);
NTSYSAPI BOOLEAN NTAPI RtlPrefixUnicodeString(_In_ PCUNICODE_STRING String1, _In_ PCUNICODE_STRING String2, _In_ BOOLEAN CaseInSensitive);
NTSYSAPI NTSTATUS NTAPI RtlUpcaseUnicodeString(_Inout_ PUNICODE_STRING DestinationString, _In_ PCUNICODE_STRING SourceString, _In_ BOOLEAN AllocateDestinationString);
NTSYSAPI WCHAR NTAPI RtlUpcaseUnicodeChar(_In_ WCHAR SourceCharacter);
NTSYSAPI VOID NTAPI RtlFreeUnicodeString(_Inout_ PUNICODE_STRING UnicodeString);
NTSYSAPI NTSTATUS NTAPI RtlUnicodeStringToInteger(_In_ PCUNICODE_STRING String, _In_opt_ ULONG Base, _Out_ PULONG Value);

#define RtlCopyMemory(Destination, Source, Length) memcpy((Destination), (Source), (Length))
#define RtlMoveMemory(Destination, Source, Length) memmove((Destination), (Source), (Length))
#define RtlFillMemory(Destination, Length, Fill) memset((Destination), (Fill), (Length))
#define RtlZeroMemory(Destination, Length) memset((Destination), 0, (Length))
#define RtlSecureZeroMemory(Destination, Length) memset((Destination), 0, (Length))
#define RtlEqualMemory(Destination, Source, Length) (!memcmp((Destination), (Source), (Length)))
#define RtlCompareMemory(Source1, Source2, Length) fltemu_RtlCompareMemory((Source1), (Source2), (Length))
SIZE_T fltemu_RtlCompareMemory(const VOID *Source1, const VOID *Source2, SIZE_T Length);

/* ---- IRQL --------------------------------------------------------------------------------------- */

#define PASSIVE_LEVEL 0
#define LOW_LEVEL 0
#define APC_LEVEL 1
#define DISPATCH_LEVEL 2
#define HIGH_LEVEL 15

/* The IRQL is tracked per callback by the runtime: it is what Windows documents for the
 * callback (PASSIVE_LEVEL for port callbacks, pre-operations and post-create; DISPATCH_LEVEL
 * for other post-operations, their worst case), raised by spin locks and KeRaiseIrql. */
NTKERNELAPI KIRQL NTAPI KeGetCurrentIrql(VOID);
NTKERNELAPI VOID NTAPI KeRaiseIrql(_In_ KIRQL NewIrql, _Out_ PKIRQL OldIrql);
NTKERNELAPI VOID NTAPI KeLowerIrql(_In_ KIRQL NewIrql);
NTKERNELAPI KIRQL NTAPI KeRaiseIrqlToDpcLevel(VOID);

/* PAGED_CODE() reports an IRQL violation (R-VERIFY-9) when the code runs above APC_LEVEL. */
VOID fltemu_PagedCode(const char *File, int Line);
#define PAGED_CODE() fltemu_PagedCode(__FILE__, __LINE__)
#define PAGED_CODE_LOCKED() ((void)0)
#define NT_ASSERT(e) ((e) ? (void)0 : fltemu_AssertFailed(#e, __FILE__, __LINE__))
#define NT_ASSERTMSG(m, e) NT_ASSERT(e)
#define ASSERT(e) NT_ASSERT(e)
#define ASSERTMSG(m, e) NT_ASSERT(e)
#define FLT_ASSERT(e) NT_ASSERT(e)
#define FLT_ASSERTMSG(m, e) NT_ASSERT(e)
VOID fltemu_AssertFailed(const char *Expression, const char *File, int Line);

/* ---- debug output: DbgPrint goes to the world's trace (a dbg-print event) ------------------- */

/* The format is printf's with the Windows kernel's additions: %wZ (PUNICODE_STRING), %Z
 * (PANSI_STRING), %ws, %ls and %S (a WCHAR string), %I64d/%I64u/%I64x, and l for 32 bits. */
ULONG __cdecl DbgPrint(_In_z_ _Printf_format_string_ PCSTR Format, ...);
ULONG __cdecl DbgPrintEx(_In_ ULONG ComponentId, _In_ ULONG Level, _In_z_ PCSTR Format, ...);
#define KdPrint(_x_) DbgPrint _x_
#define KdPrintEx(_x_) DbgPrintEx _x_
#define DbgBreakPoint() ((void)0)
#define KdBreakPoint() ((void)0)
#define DPFLTR_IHVDRIVER_ID 77
#define DPFLTR_ERROR_LEVEL 0
#define DPFLTR_WARNING_LEVEL 1
#define DPFLTR_TRACE_LEVEL 2
#define DPFLTR_INFO_LEVEL 3

/* ---- structured exception handling stand-in --------------------------------------------------
 * What it does: `__try { body } __except (filter) { handler }` runs body; `__try { body }
 * __finally { fin }` runs body, then fin; `__leave` leaves the body for the __finally (or for
 * the statement after the __except). The lower-case spellings of the WDK (try, except,
 * finally, leave) are the same.
 * What it does not do: no exception is ever raised or caught. The filter is not evaluated
 * and the handler never runs: a fault in C code under go test is a SIGSEGV that ends the
 * test binary (Go prints the C stack), and the routines that raise on Windows
 * (ProbeForRead/ProbeForWrite on a bad buffer, ExRaiseStatus) report a verifier violation
 * and return instead. A __finally runs when the body falls through its end or __leave's; not
 * when the body returns or jumps out with goto. The body is a one-pass loop, so a `break` or
 * `continue` in it (outside a loop of its own) leaves the __try like __leave rather than the
 * loop around the __try.
 */
#define FLTEMU_CAT2_(a, b) a##b
#define FLTEMU_CAT_(a, b) FLTEMU_CAT2_(a, b)
#define __try if (1) for (int FLTEMU_CAT_(fltemu_try_, __LINE__) = 1; FLTEMU_CAT_(fltemu_try_, __LINE__); FLTEMU_CAT_(fltemu_try_, __LINE__) = 0)
#define __except(filter) else if (((void)0, 0))
#define __finally if (1)
#define __leave break
#ifndef __cplusplus
#define try __try
#define except __except
#define finally __finally
#define leave __leave
#endif
#define GetExceptionCode() ((NTSTATUS)STATUS_SUCCESS)
#define GetExceptionInformation() ((void *)0)
#define EXCEPTION_EXECUTE_HANDLER 1
#define EXCEPTION_CONTINUE_SEARCH 0
#define EXCEPTION_CONTINUE_EXECUTION (-1)

NTKERNELAPI VOID NTAPI ProbeForRead(_In_reads_bytes_(Length) const volatile VOID *Address, _In_ SIZE_T Length, _In_ ULONG Alignment);
NTKERNELAPI VOID NTAPI ProbeForWrite(_Inout_updates_bytes_(Length) volatile VOID *Address, _In_ SIZE_T Length, _In_ ULONG Alignment);
NTKERNELAPI VOID NTAPI ExRaiseStatus(_In_ NTSTATUS Status);

/* ---- pool ----------------------------------------------------------------------------------------
 * Every allocation is tracked with its tag, size and call site (file:line); what is still
 * allocated when the driver unloads fails the test (R-VERIFY-POOL-1). Freed blocks are filled
 * with 0xFD ("freed") and kept until unload, so a use after free reads the pattern and a write
 * after free or a double free is caught.
 */
typedef enum _POOL_TYPE {
    NonPagedPool = 0,
    NonPagedPoolExecute = 0,
    PagedPool = 1,
    NonPagedPoolMustSucceed = 2,
    DontUseThisType = 3,
    NonPagedPoolCacheAligned = 4,
    PagedPoolCacheAligned = 5,
    NonPagedPoolNx = 512,
    NonPagedPoolNxCacheAligned = 516,
} POOL_TYPE;

typedef ULONG64 POOL_FLAGS;
#define POOL_FLAG_REQUIRED_START          0x0000000000000001ULL
#define POOL_FLAG_USE_QUOTA               0x0000000000000001ULL
#define POOL_FLAG_UNINITIALIZED           0x0000000000000002ULL
#define POOL_FLAG_SESSION                 0x0000000000000004ULL
#define POOL_FLAG_CACHE_ALIGNED           0x0000000000000008ULL
#define POOL_FLAG_RAISE_ON_FAILURE        0x0000000000000020ULL
#define POOL_FLAG_NON_PAGED               0x0000000000000040ULL
#define POOL_FLAG_NON_PAGED_EXECUTE       0x0000000000000080ULL
#define POOL_FLAG_PAGED                   0x0000000000000100ULL

NTKERNELAPI PVOID NTAPI ExAllocatePoolWithTag(_In_ POOL_TYPE PoolType, _In_ SIZE_T NumberOfBytes, _In_ ULONG Tag);
NTKERNELAPI PVOID NTAPI ExAllocatePool2(_In_ POOL_FLAGS Flags, _In_ SIZE_T NumberOfBytes, _In_ ULONG Tag);
NTKERNELAPI PVOID NTAPI ExAllocatePoolZero(_In_ POOL_TYPE PoolType, _In_ SIZE_T NumberOfBytes, _In_ ULONG Tag);
NTKERNELAPI VOID NTAPI ExFreePoolWithTag(_In_ PVOID P, _In_ ULONG Tag);
NTKERNELAPI VOID NTAPI ExFreePool(_In_ PVOID P);

PVOID fltemu_ExAllocatePool(ULONG64 Flags, SIZE_T NumberOfBytes, ULONG Tag, int Zero, const char *Site, int Line);
/* The allocation routines are macros so the verifier knows the allocation site. */
#define ExAllocatePoolWithTag(t, n, tag) fltemu_ExAllocatePool((ULONG64)(t), (n), (tag), 0, __FILE__, __LINE__)
#define ExAllocatePoolZero(t, n, tag) fltemu_ExAllocatePool((ULONG64)(t), (n), (tag), 1, __FILE__, __LINE__)
#define ExAllocatePool2(f, n, tag) fltemu_ExAllocatePool((f) | 0x8000000000000000ULL, (n), (tag), !((f) & POOL_FLAG_UNINITIALIZED), __FILE__, __LINE__)
#define ExAllocatePool(t, n) fltemu_ExAllocatePool((ULONG64)(t), (n), 0x656E6F4E /* 'None' */, 0, __FILE__, __LINE__)

/* ---- objects, security ------------------------------------------------------------------------ */

typedef PVOID PSECURITY_DESCRIPTOR;
typedef struct _ACL {
    UCHAR AclRevision;
    UCHAR Sbz1;
    USHORT AclSize;
    USHORT AceCount;
    USHORT Sbz2;
} ACL, *PACL;

#define OBJ_INHERIT             0x00000002L
#define OBJ_PERMANENT           0x00000010L
#define OBJ_EXCLUSIVE           0x00000020L
#define OBJ_CASE_INSENSITIVE    0x00000040L
#define OBJ_OPENIF              0x00000080L
#define OBJ_OPENLINK            0x00000100L
#define OBJ_KERNEL_HANDLE       0x00000200L
#define OBJ_FORCE_ACCESS_CHECK  0x00000400L

typedef struct _OBJECT_ATTRIBUTES {
    ULONG Length;
    HANDLE RootDirectory;
    PUNICODE_STRING ObjectName;
    ULONG Attributes;
    PVOID SecurityDescriptor;
    PVOID SecurityQualityOfService;
} OBJECT_ATTRIBUTES, *POBJECT_ATTRIBUTES;
typedef const OBJECT_ATTRIBUTES *PCOBJECT_ATTRIBUTES;

#define InitializeObjectAttributes(p, n, a, r, s) \
    do {                                          \
        (p)->Length = sizeof(OBJECT_ATTRIBUTES);  \
        (p)->RootDirectory = (r);                 \
        (p)->Attributes = (a);                    \
        (p)->ObjectName = (n);                    \
        (p)->SecurityDescriptor = (s);            \
        (p)->SecurityQualityOfService = NULL;     \
    } while (0)

NTSYSAPI NTSTATUS NTAPI RtlSetDaclSecurityDescriptor(_Inout_ PSECURITY_DESCRIPTOR SecurityDescriptor, _In_ BOOLEAN DaclPresent, _In_opt_ PACL Dacl, _In_opt_ BOOLEAN DaclDefaulted);

typedef struct _DISPATCHER_HEADER {
    UCHAR Type;
    UCHAR Signalling;
    UCHAR Size;
    UCHAR Reserved1;
    LONG SignalState;
    LIST_ENTRY WaitListHead;
} DISPATCHER_HEADER;

/* ---- processes, threads ---------------------------------------------------------------------- */

typedef struct _KTHREAD *PKTHREAD, *PETHREAD, *PRKTHREAD;
typedef struct _KPROCESS *PKPROCESS, *PEPROCESS, *PRKPROCESS;
typedef enum _MODE { KernelMode, UserMode, MaximumMode } MODE;

NTKERNELAPI HANDLE NTAPI PsGetCurrentProcessId(VOID);
NTKERNELAPI HANDLE NTAPI PsGetCurrentThreadId(VOID);
NTKERNELAPI PEPROCESS NTAPI PsGetCurrentProcess(VOID);
NTKERNELAPI PETHREAD NTAPI PsGetCurrentThread(VOID);
#define IoGetCurrentProcess PsGetCurrentProcess
#define KeGetCurrentThread PsGetCurrentThread
NTKERNELAPI HANDLE NTAPI PsGetProcessId(_In_ PEPROCESS Process);

/* ---- events, waits ---------------------------------------------------------------------------- */

typedef enum _EVENT_TYPE { NotificationEvent, SynchronizationEvent } EVENT_TYPE;
typedef enum _KWAIT_REASON { Executive = 0, UserRequest = 6, WrQueue = 15 } KWAIT_REASON;

typedef struct _KEVENT {
    DISPATCHER_HEADER Header;
} KEVENT, *PKEVENT, *PRKEVENT;

#define IO_NO_INCREMENT 0
#define EVENT_INCREMENT 1

/* Waits block the calling goroutine on a channel in the runtime, so a timeout runs on the
 * fake clock inside a testing/synctest bubble. */
NTKERNELAPI VOID NTAPI KeInitializeEvent(_Out_ PRKEVENT Event, _In_ EVENT_TYPE Type, _In_ BOOLEAN State);
NTKERNELAPI LONG NTAPI KeSetEvent(_Inout_ PRKEVENT Event, _In_ KPRIORITY Increment, _In_ BOOLEAN Wait);
NTKERNELAPI VOID NTAPI KeClearEvent(_Inout_ PRKEVENT Event);
NTKERNELAPI LONG NTAPI KeResetEvent(_Inout_ PRKEVENT Event);
NTKERNELAPI LONG NTAPI KeReadStateEvent(_In_ PRKEVENT Event);
NTKERNELAPI NTSTATUS NTAPI KeWaitForSingleObject(_In_ PVOID Object, _In_ KWAIT_REASON WaitReason, _In_ KPROCESSOR_MODE WaitMode, _In_ BOOLEAN Alertable, _In_opt_ PLARGE_INTEGER Timeout);
NTKERNELAPI NTSTATUS NTAPI KeDelayExecutionThread(_In_ KPROCESSOR_MODE WaitMode, _In_ BOOLEAN Alertable, _In_ PLARGE_INTEGER Interval);
NTKERNELAPI VOID NTAPI KeQuerySystemTime(_Out_ PLARGE_INTEGER CurrentTime);
#define KeQuerySystemTimePrecise KeQuerySystemTime
NTKERNELAPI ULONGLONG NTAPI KeQueryInterruptTime(VOID);

/* ---- locks -----------------------------------------------------------------------------------
 * Each lock is tracked by address: releasing a lock that is not held (or held by another
 * callback), acquiring a lock the callback already holds, and returning from a callback with
 * a lock held are verifier violations (R-VERIFY-LOCK-1, -2). Contended acquires block on a
 * channel in the runtime, not by spinning.
 */
typedef ULONG_PTR KSPIN_LOCK, *PKSPIN_LOCK;

typedef struct _KMUTANT {
    DISPATCHER_HEADER Header;
    LIST_ENTRY MutantListEntry;
    PKTHREAD OwnerThread;
    BOOLEAN Abandoned;
    UCHAR ApcDisable;
} KMUTANT, *PKMUTANT, KMUTEX, *PKMUTEX, *PRKMUTEX;

typedef struct _FAST_MUTEX {
    LONG Count;
    PVOID Owner;
    ULONG Contention;
    KEVENT Event;
    ULONG OldIrql;
} FAST_MUTEX, *PFAST_MUTEX, KGUARDED_MUTEX, *PKGUARDED_MUTEX;

typedef struct _EX_PUSH_LOCK {
    ULONG_PTR Value;
} EX_PUSH_LOCK, *PEX_PUSH_LOCK;

typedef struct _ERESOURCE {
    LIST_ENTRY SystemResourcesList;
    PVOID OwnerTable;
    SHORT ActiveCount;
    USHORT Flag;
    PVOID SharedWaiters;
    PVOID ExclusiveWaiters;
    ULONG_PTR Reserved[10];
} ERESOURCE, *PERESOURCE;

typedef struct _KLOCK_QUEUE_HANDLE {
    struct {
        PVOID Next;
        PKSPIN_LOCK Lock;
    } LockQueue;
    KIRQL OldIrql;
} KLOCK_QUEUE_HANDLE, *PKLOCK_QUEUE_HANDLE;

NTKERNELAPI VOID NTAPI KeInitializeSpinLock(_Out_ PKSPIN_LOCK SpinLock);
NTKERNELAPI VOID NTAPI KeAcquireSpinLock(_Inout_ PKSPIN_LOCK SpinLock, _Out_ PKIRQL OldIrql);
NTKERNELAPI VOID NTAPI KeReleaseSpinLock(_Inout_ PKSPIN_LOCK SpinLock, _In_ KIRQL NewIrql);
NTKERNELAPI VOID NTAPI KeAcquireSpinLockAtDpcLevel(_Inout_ PKSPIN_LOCK SpinLock);
NTKERNELAPI VOID NTAPI KeReleaseSpinLockFromDpcLevel(_Inout_ PKSPIN_LOCK SpinLock);
NTKERNELAPI VOID NTAPI KeAcquireInStackQueuedSpinLock(_Inout_ PKSPIN_LOCK SpinLock, _Out_ PKLOCK_QUEUE_HANDLE LockHandle);
NTKERNELAPI VOID NTAPI KeReleaseInStackQueuedSpinLock(_In_ PKLOCK_QUEUE_HANDLE LockHandle);

NTKERNELAPI VOID NTAPI KeInitializeMutex(_Out_ PRKMUTEX Mutex, _In_ ULONG Level);
NTKERNELAPI LONG NTAPI KeReleaseMutex(_Inout_ PRKMUTEX Mutex, _In_ BOOLEAN Wait);

NTKERNELAPI VOID NTAPI ExInitializeFastMutex(_Out_ PFAST_MUTEX FastMutex);
NTKERNELAPI VOID NTAPI ExAcquireFastMutex(_Inout_ PFAST_MUTEX FastMutex);
NTKERNELAPI VOID NTAPI ExReleaseFastMutex(_Inout_ PFAST_MUTEX FastMutex);
NTKERNELAPI BOOLEAN NTAPI ExTryToAcquireFastMutex(_Inout_ PFAST_MUTEX FastMutex);
#define KeInitializeGuardedMutex ExInitializeFastMutex
#define KeAcquireGuardedMutex ExAcquireFastMutex
#define KeReleaseGuardedMutex ExReleaseFastMutex

NTKERNELAPI VOID NTAPI KeEnterCriticalRegion(VOID);
NTKERNELAPI VOID NTAPI KeLeaveCriticalRegion(VOID);

NTKERNELAPI NTSTATUS NTAPI ExInitializeResourceLite(_Out_ PERESOURCE Resource);
NTKERNELAPI NTSTATUS NTAPI ExDeleteResourceLite(_Inout_ PERESOURCE Resource);
NTKERNELAPI BOOLEAN NTAPI ExAcquireResourceExclusiveLite(_Inout_ PERESOURCE Resource, _In_ BOOLEAN Wait);
NTKERNELAPI BOOLEAN NTAPI ExAcquireResourceSharedLite(_Inout_ PERESOURCE Resource, _In_ BOOLEAN Wait);
NTKERNELAPI VOID NTAPI ExReleaseResourceLite(_Inout_ PERESOURCE Resource);

/* ---- interlocked operations (full barriers, as on x64) ---------------------------------------- */

#define InterlockedIncrement(p) __atomic_add_fetch((p), 1, __ATOMIC_SEQ_CST)
#define InterlockedDecrement(p) __atomic_sub_fetch((p), 1, __ATOMIC_SEQ_CST)
#define InterlockedIncrement64 InterlockedIncrement
#define InterlockedDecrement64 InterlockedDecrement
#define InterlockedExchange(p, v) __atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#define InterlockedExchange64 InterlockedExchange
#define InterlockedExchangeAdd(p, v) __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define InterlockedExchangeAdd64 InterlockedExchangeAdd
#define InterlockedAdd(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)
#define InterlockedAdd64 InterlockedAdd
#define InterlockedOr(p, v) __atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST)
#define InterlockedAnd(p, v) __atomic_fetch_and((p), (v), __ATOMIC_SEQ_CST)
#define InterlockedXor(p, v) __atomic_fetch_xor((p), (v), __ATOMIC_SEQ_CST)
#define InterlockedCompareExchange(p, x, c) __sync_val_compare_and_swap((p), (c), (x))
#define InterlockedCompareExchange64 InterlockedCompareExchange
#define InterlockedExchangePointer(p, v) ((PVOID)__atomic_exchange_n((PVOID *)(p), (PVOID)(v), __ATOMIC_SEQ_CST))
#define InterlockedCompareExchangePointer(p, x, c) ((PVOID)__sync_val_compare_and_swap((PVOID *)(p), (PVOID)(c), (PVOID)(x)))
#define ReadAcquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define WriteRelease(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define ReadNoFence(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define WriteNoFence(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define KeMemoryBarrier() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define MemoryBarrier() __atomic_thread_fence(__ATOMIC_SEQ_CST)

/* ---- lists ------------------------------------------------------------------------------------ */

FORCEINLINE VOID InitializeListHead(PLIST_ENTRY ListHead) { ListHead->Flink = ListHead->Blink = ListHead; }
FORCEINLINE BOOLEAN IsListEmpty(const LIST_ENTRY *ListHead) { return (BOOLEAN)(ListHead->Flink == ListHead); }
FORCEINLINE BOOLEAN RemoveEntryList(PLIST_ENTRY Entry) {
    PLIST_ENTRY Blink = Entry->Blink, Flink = Entry->Flink;
    Blink->Flink = Flink;
    Flink->Blink = Blink;
    return (BOOLEAN)(Flink == Blink);
}
FORCEINLINE PLIST_ENTRY RemoveHeadList(PLIST_ENTRY ListHead) {
    PLIST_ENTRY Entry = ListHead->Flink;
    RemoveEntryList(Entry);
    return Entry;
}
FORCEINLINE PLIST_ENTRY RemoveTailList(PLIST_ENTRY ListHead) {
    PLIST_ENTRY Entry = ListHead->Blink;
    RemoveEntryList(Entry);
    return Entry;
}
FORCEINLINE VOID InsertTailList(PLIST_ENTRY ListHead, PLIST_ENTRY Entry) {
    PLIST_ENTRY Blink = ListHead->Blink;
    Entry->Flink = ListHead;
    Entry->Blink = Blink;
    Blink->Flink = Entry;
    ListHead->Blink = Entry;
}
FORCEINLINE VOID InsertHeadList(PLIST_ENTRY ListHead, PLIST_ENTRY Entry) {
    PLIST_ENTRY Flink = ListHead->Flink;
    Entry->Flink = Flink;
    Entry->Blink = ListHead;
    Flink->Blink = Entry;
    ListHead->Flink = Entry;
}

/* ---- driver object ---------------------------------------------------------------------------- */

typedef struct _DEVICE_OBJECT *PDEVICE_OBJECT;
typedef struct _DRIVER_OBJECT *PDRIVER_OBJECT;
typedef struct _IRP *PIRP;
typedef struct _MDL *PMDL;

typedef NTSTATUS DRIVER_INITIALIZE(_In_ struct _DRIVER_OBJECT *DriverObject, _In_ PUNICODE_STRING RegistryPath);
typedef DRIVER_INITIALIZE *PDRIVER_INITIALIZE;
typedef VOID DRIVER_UNLOAD(_In_ struct _DRIVER_OBJECT *DriverObject);
typedef DRIVER_UNLOAD *PDRIVER_UNLOAD;
typedef NTSTATUS DRIVER_DISPATCH(_In_ struct _DEVICE_OBJECT *DeviceObject, _Inout_ struct _IRP *Irp);
typedef DRIVER_DISPATCH *PDRIVER_DISPATCH;

#define IRP_MJ_MAXIMUM_FUNCTION 0x1b

typedef struct _DRIVER_OBJECT {
    CSHORT Type;
    CSHORT Size;
    PDEVICE_OBJECT DeviceObject;
    ULONG Flags;
    PVOID DriverStart;
    ULONG DriverSize;
    PVOID DriverSection;
    PVOID DriverExtension;
    UNICODE_STRING DriverName;
    PUNICODE_STRING HardwareDatabase;
    PVOID FastIoDispatch;
    PVOID DriverInit;
    PVOID DriverStartIo;
    PDRIVER_UNLOAD DriverUnload;
    PDRIVER_DISPATCH MajorFunction[IRP_MJ_MAXIMUM_FUNCTION + 1];
} DRIVER_OBJECT;

#ifdef __cplusplus
}
#endif

#endif /* FLTEMU_WDM_H */
