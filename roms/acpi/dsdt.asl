/*
 * vx86's DSDT: the i440FX/PIIX3 PC with the PIIX4-style PM function (00:01.3).
 * Compiled with Debian's iasl at build time; emu/acpi_tables.cpp links it with the FADT, FACS,
 * MADT and RSDT it builds.
 *
 * Patched at build-table time (emu/acpi_tables.cpp finds each name once and writes its 32-bit
 * value): P32S/P32E, the PCI memory window (from the top of RAM to below the I/O APIC); C1ST,
 * COM1's _STA; NCPU, the number of processors.
 */
DefinitionBlock ("", "DSDT", 1, "VX86  ", "VX86PC  ", 1)
{
    /* S5 soft off: SLP_TYP 0 in PM1a_CNT (the PIIX4's "soft off" suspend type). No S1-S4. */
    Name (_S5, Package (0x04) { Zero, Zero, Zero, Zero })

    /* The interrupt model the OS chose: 0 = 8259 PICs, 1 = I/O APIC. */
    Name (PICM, Zero)
    Method (_PIC, 1, NotSerialized)
    {
        PICM = Arg0
    }

    Scope (\_SB)
    {
        /* Processors 0-7 (UIDs = the MADT's ACPI processor IDs); those beyond the board's count
         * are absent. NCPU is patched. */
        Name (NCPU, 0xDEADBEE3)
        Method (CSTA, 1, NotSerialized)
        {
            If (Arg0 < NCPU) { Return (0x0F) }
            Return (Zero)
        }
        Device (CPU0) { Name (_HID, "ACPI0007") Name (_UID, Zero) Method (_STA) { Return (CSTA (Zero)) } }
        Device (CPU1) { Name (_HID, "ACPI0007") Name (_UID, One) Method (_STA) { Return (CSTA (One)) } }
        Device (CPU2) { Name (_HID, "ACPI0007") Name (_UID, 0x02) Method (_STA) { Return (CSTA (0x02)) } }
        Device (CPU3) { Name (_HID, "ACPI0007") Name (_UID, 0x03) Method (_STA) { Return (CSTA (0x03)) } }
        Device (CPU4) { Name (_HID, "ACPI0007") Name (_UID, 0x04) Method (_STA) { Return (CSTA (0x04)) } }
        Device (CPU5) { Name (_HID, "ACPI0007") Name (_UID, 0x05) Method (_STA) { Return (CSTA (0x05)) } }
        Device (CPU6) { Name (_HID, "ACPI0007") Name (_UID, 0x06) Method (_STA) { Return (CSTA (0x06)) } }
        Device (CPU7) { Name (_HID, "ACPI0007") Name (_UID, 0x07) Method (_STA) { Return (CSTA (0x07)) } }

        Device (PCI0)
        {
            Name (_HID, EisaId ("PNP0A03"))
            Name (_UID, Zero)
            Name (_BBN, Zero)

            Name (P32S, 0xDEADBEE0)   /* first byte of the PCI memory window (patched) */
            Name (P32E, 0xDEADBEE1)   /* last byte of the PCI memory window (patched) */

            Method (_CRS, 0, Serialized)
            {
                Name (RSRC, ResourceTemplate ()
                {
                    WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
                        0x0000, 0x0000, 0x00FF, 0x0000, 0x0100)
                    IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08)
                    WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                        0x0000, 0x0000, 0x0CF7, 0x0000, 0x0CF8)
                    WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                        0x0000, 0x0D00, 0xFFFF, 0x0000, 0xF300)
                    DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite,
                        0x00000000, 0x000A0000, 0x000BFFFF, 0x00000000, 0x00020000)
                    DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
                        0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,,, PW32)
                })
                CreateDWordField (RSRC, \_SB.PCI0._CRS.PW32._MIN, PMIN)
                CreateDWordField (RSRC, \_SB.PCI0._CRS.PW32._MAX, PMAX)
                CreateDWordField (RSRC, \_SB.PCI0._CRS.PW32._LEN, PLEN)
                PMIN = P32S
                PMAX = P32E
                PLEN = (P32E - P32S) + One
                Return (RSRC)
            }

            /*
             * PCI interrupt routing: device D's pin P (0 = INTA) drives PIRQ (D + P) mod 4, the
             * i440FX boards' swizzle (PciBus::pirq_of). Each PIRQ is a link device that the PIIX3's
             * route register programs; in either interrupt model the link's ISA IRQ is the input
             * (the I/O APIC takes ISA IRQ n on pin n).
             */
            Method (_PRT, 0, NotSerialized)
            {
                Local0 = Package (0x80) {}
                Local1 = Zero
                While (Local1 < 0x80)
                {
                    Local2 = (Local1 >> 2)
                    Local3 = ((Local2 + Local1) & 0x03)
                    If (Local3 == Zero) { Local4 = Package (0x04) { Zero, Zero, LNKA, Zero } }
                    If (Local3 == One) { Local4 = Package (0x04) { Zero, Zero, LNKB, Zero } }
                    If (Local3 == 0x02) { Local4 = Package (0x04) { Zero, Zero, LNKC, Zero } }
                    If (Local3 == 0x03) { Local4 = Package (0x04) { Zero, Zero, LNKD, Zero } }
                    Local4 [Zero] = ((Local2 << 0x10) | 0xFFFF)
                    Local4 [One] = (Local1 & 0x03)
                    Local0 [Local1] = Local4
                    Local1++
                }
                Return (Local0)
            }

            /* 00:01.0, the PIIX3 PCI-to-ISA bridge, and the ISA devices behind it. */
            Device (ISA)
            {
                Name (_ADR, 0x00010000)
                OperationRegion (PIRQ, PCI_Config, 0x60, 0x04)
                Field (PIRQ, ByteAcc, NoLock, Preserve)
                {
                    PRQA, 8,
                    PRQB, 8,
                    PRQC, 8,
                    PRQD, 8
                }

                Device (RTC)
                {
                    Name (_HID, EisaId ("PNP0B00"))
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0070, 0x0070, 0x01, 0x08)
                        IRQNoFlags () {8}
                    })
                }

                Device (KBD)
                {
                    Name (_HID, EisaId ("PNP0303"))
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0060, 0x0060, 0x01, 0x01)
                        IO (Decode16, 0x0064, 0x0064, 0x01, 0x01)
                        IRQNoFlags () {1}
                    })
                }

                Device (MOU)
                {
                    Name (_HID, EisaId ("PNP0F13"))
                    Name (_CRS, ResourceTemplate ()
                    {
                        IRQNoFlags () {12}
                    })
                }

                Device (COM1)
                {
                    Name (_HID, EisaId ("PNP0501"))
                    Name (_UID, One)
                    Method (_STA, 0, NotSerialized)
                    {
                        Return (\_SB.PCI0.ISA.C1ST)
                    }
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x03F8, 0x03F8, 0x00, 0x08)
                        IRQNoFlags () {4}
                    })
                }

                /* COM1's _STA: 0x0F when the board has it (patched to Zero with -serial none). */
                Name (C1ST, 0xDEADBEE2)
            }
        }

        /* PIRQ link devices: the PIIX3 route registers 0x60-0x63 (bit 7 = routing off). */
        Method (LSTA, 1, NotSerialized)
        {
            If ((Arg0 & 0x80)) { Return (0x09) }
            Return (0x0B)
        }

        Method (LCRS, 1, Serialized)
        {
            Name (PRR0, ResourceTemplate ()
            {
                Interrupt (ResourceConsumer, Level, ActiveHigh, Shared, ,, _Y00) { 0 }
            })
            CreateDWordField (PRR0, \_SB.LCRS._Y00._INT, PRRI)
            If (!(Arg0 & 0x80)) { PRRI = (Arg0 & 0x0F) }
            Return (PRR0)
        }

        Method (LIRQ, 1, Serialized)
        {
            CreateDWordField (Arg0, 0x05, PRRI)
            Return (PRRI)
        }

        Name (PRSA, ResourceTemplate ()
        {
            Interrupt (ResourceConsumer, Level, ActiveHigh, Shared, ,, ) { 5, 10, 11 }
        })

        Device (LNKA)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, Zero)
            Method (_STA, 0, NotSerialized) { Return (LSTA (\_SB.PCI0.ISA.PRQA)) }
            Method (_PRS, 0, NotSerialized) { Return (PRSA) }
            Method (_DIS, 0, NotSerialized) { \_SB.PCI0.ISA.PRQA |= 0x80 }
            Method (_CRS, 0, NotSerialized) { Return (LCRS (\_SB.PCI0.ISA.PRQA)) }
            Method (_SRS, 1, NotSerialized) { \_SB.PCI0.ISA.PRQA = LIRQ (Arg0) }
        }

        Device (LNKB)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, One)
            Method (_STA, 0, NotSerialized) { Return (LSTA (\_SB.PCI0.ISA.PRQB)) }
            Method (_PRS, 0, NotSerialized) { Return (PRSA) }
            Method (_DIS, 0, NotSerialized) { \_SB.PCI0.ISA.PRQB |= 0x80 }
            Method (_CRS, 0, NotSerialized) { Return (LCRS (\_SB.PCI0.ISA.PRQB)) }
            Method (_SRS, 1, NotSerialized) { \_SB.PCI0.ISA.PRQB = LIRQ (Arg0) }
        }

        Device (LNKC)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 0x02)
            Method (_STA, 0, NotSerialized) { Return (LSTA (\_SB.PCI0.ISA.PRQC)) }
            Method (_PRS, 0, NotSerialized) { Return (PRSA) }
            Method (_DIS, 0, NotSerialized) { \_SB.PCI0.ISA.PRQC |= 0x80 }
            Method (_CRS, 0, NotSerialized) { Return (LCRS (\_SB.PCI0.ISA.PRQC)) }
            Method (_SRS, 1, NotSerialized) { \_SB.PCI0.ISA.PRQC = LIRQ (Arg0) }
        }

        Device (LNKD)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 0x03)
            Method (_STA, 0, NotSerialized) { Return (LSTA (\_SB.PCI0.ISA.PRQD)) }
            Method (_PRS, 0, NotSerialized) { Return (PRSA) }
            Method (_DIS, 0, NotSerialized) { \_SB.PCI0.ISA.PRQD |= 0x80 }
            Method (_CRS, 0, NotSerialized) { Return (LCRS (\_SB.PCI0.ISA.PRQD)) }
            Method (_SRS, 1, NotSerialized) { \_SB.PCI0.ISA.PRQD = LIRQ (Arg0) }
        }
    }
}
