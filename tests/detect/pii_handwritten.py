"""Hand-written PII documents with gold spans, for quality tests on text the rules were not built from.

Written for these tests (names, places and numbers invented or public-knowledge places; card numbers are
made-up digits, Luhn-valid or not as the comment says); none comes from ../shared/data. Gold labels follow the
presidio-research vocabulary so ``detect.pii.evaluation`` scores them like the benchmark files. A value given
as ``(label, value, n)`` is the n-th occurrence (0-based) of ``value`` in the text.
"""

from __future__ import annotations

from typing import Any


def doc(text: str, *spans: tuple[Any, ...]) -> dict[str, Any]:
    out = []
    for span in spans:
        label, value = span[0], span[1]
        occurrence = span[2] if len(span) > 2 else 0
        start = -1
        for _ in range(occurrence + 1):
            start = text.index(value, start + 1)
        out.append({"entity_type": label, "entity_value": value, "start_position": start,
                    "end_position": start + len(value)})
    return {"full_text": text, "spans": out}


DOCUMENTS: list[dict[str, Any]] = [
    doc("Patient Oriana Vasquez-Lund, 47 years old, was admitted on 14 March 2023 at 09:40.",
        ("PERSON", "Oriana Vasquez-Lund"), ("AGE", "47"), ("DATE_TIME", "14 March 2023"), ("DATE_TIME", "09:40")),
    doc("Reminder: your appointment with Dr. Tobias Renner is on Tuesday, July 9th.",
        ("TITLE", "Dr."), ("PERSON", "Tobias Renner"), ("DATE_TIME", "Tuesday, July 9th")),
    doc("The card ending our dispute was 4929 1837 6626 1140, charged on 2024-02-11.",
        ("CREDIT_CARD", "4929 1837 6626 1140"), ("DATE_TIME", "2024-02-11")),
    doc("Please refund credit card 5312-8870-1249-6603 for the double charge.",  # Luhn-invalid, card context
        ("CREDIT_CARD", "5312-8870-1249-6603")),
    doc("Wire it to account holder Benedikt Holmqvist in Gothenburg, Sweden before Friday.",
        ("PERSON", "Benedikt Holmqvist"), ("LOCATION", "Gothenburg"), ("LOCATION", "Sweden"),
        ("DATE_TIME", "Friday")),
    doc("our new hire is a 29-year-old engineer who moved here from portugal last spring.",
        ("AGE", "29"), ("LOCATION", "portugal")),
    doc("Contact Priyanka Raghunathan at Halvorsen Analytics Ltd. on +44 20 7946 0321.",
        ("PERSON", "Priyanka Raghunathan"), ("ORGANIZATION", "Halvorsen Analytics Ltd."),
        ("PHONE_NUMBER", "+44 20 7946 0321")),
    doc("Shipping address:\n1740 Larkspur Avenue\nApt 12B\nTucson, AZ 85726",
        ("STREET_ADDRESS", "1740 Larkspur Avenue\nApt 12B"), ("LOCATION", "Tucson"), ("LOCATION", "AZ"),
        ("ZIP", "85726")),
    doc("I was born on 03/22/1981 and my SSN is 512-44-8390.",
        ("DATE_TIME", "03/22/1981"), ("US_SSN", "512-44-8390")),
    doc("Mr. Caspian Achterberg, aged 63, signed the lease in November.",
        ("TITLE", "Mr."), ("PERSON", "Caspian Achterberg"), ("AGE", "63"), ("DATE_TIME", "November")),
    doc("The meeting with Okonkwo, Fairleigh and Brandt is moved to 3pm on Thursday.",
        ("ORGANIZATION", "Okonkwo, Fairleigh and Brandt"), ("DATE_TIME", "3pm on Thursday")),
    doc("Send the documents to marguerite.olsson@example.net before December 5, 2025.",
        ("EMAIL_ADDRESS", "marguerite.olsson@example.net"), ("DATE_TIME", "December 5, 2025")),
    doc("She studied at the University of Porto and now works for Quillfeather Systems in Lisbon.",
        ("ORGANIZATION", "University of Porto"), ("ORGANIZATION", "Quillfeather Systems"), ("LOCATION", "Lisbon")),
    doc("Visa 4485275742308327 expired in 2019; the new one arrives next week.",  # Luhn-valid
        ("CREDIT_CARD", "4485275742308327"), ("DATE_TIME", "2019")),
    doc("Ingrid Solberg (52) from Bergen called twice about the invoice.",
        ("PERSON", "Ingrid Solberg"), ("LOCATION", "Bergen")),
    doc("Our server at 10.24.8.19 logged a login from Kenya at 23:15:07.",
        ("IP_ADDRESS", "10.24.8.19"), ("LOCATION", "Kenya"), ("DATE_TIME", "23:15:07")),
    doc("When Hamid Farouqi turned 40 he left Brightwater Holdings and moved to Montreal.",
        ("PERSON", "Hamid Farouqi"), ("ORGANIZATION", "Brightwater Holdings"), ("LOCATION", "Montreal")),
    doc("Ms. Yolanda Pritchard-Oyelaran, Head of Harbour Logistics, approved the budget on 1 April 2022.",
        ("TITLE", "Ms."), ("PERSON", "Yolanda Pritchard-Oyelaran"), ("TITLE", "Head of Harbour Logistics"),
        ("DATE_TIME", "1 April 2022")),
    doc("call me on (503) 555-0178 or at the office after 6 p.m.",
        ("PHONE_NUMBER", "(503) 555-0178"), ("DATE_TIME", "6 p.m.")),
    doc("The quarterly report covers revenue, churn and hiring plans; no names are included.",),
    doc("Lorenzo Bellandi, age: 71, resident of Florence, Italy.",
        ("PERSON", "Lorenzo Bellandi"), ("AGE", "71"), ("LOCATION", "Florence"), ("LOCATION", "Italy")),
    doc("Auf Wiedersehen! Grüße aus Hamburg, Deutschland, von Katharina Wendlinger.",
        ("LOCATION", "Hamburg"), ("PERSON", "Katharina Wendlinger")),
    doc("Invoice 2291 for Thornbury Media Group was paid on Monday the 4th with Amex 3714 496353 98431.",
        ("ORGANIZATION", "Thornbury Media Group"), ("DATE_TIME", "Monday the 4th"),
        ("CREDIT_CARD", "3714 496353 98431")),
    doc("The 1990s were good to Aurelio Mastrangelo, who opened a bakery in Naples in 1994.",
        ("DATE_TIME", "1990s"), ("PERSON", "Aurelio Mastrangelo"), ("LOCATION", "Naples"), ("DATE_TIME", "1994")),
    doc("Prof. Wendell Adeyemi-Carr will present at 10:15 AM on Sept. 18.",
        ("TITLE", "Prof."), ("PERSON", "Wendell Adeyemi-Carr"), ("DATE_TIME", "10:15 AM on Sept. 18")),
    doc("We deliver to 88 Marlowe Crescent, Leeds LS6 2QF within three days.",
        ("STREET_ADDRESS", "88 Marlowe Crescent"), ("LOCATION", "Leeds"), ("ZIP", "LS6 2QF")),
    doc("A 19-year-old student from Nairobi won the chess open held at Copperline University.",
        ("AGE", "19"), ("LOCATION", "Nairobi"), ("ORGANIZATION", "Copperline University")),
    doc("my name is Esperanza Villalobos and I live in Chile",
        ("PERSON", "Esperanza Villalobos"), ("LOCATION", "Chile")),
]
