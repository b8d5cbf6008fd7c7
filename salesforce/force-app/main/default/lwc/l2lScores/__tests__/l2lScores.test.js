import { createElement } from 'lwc';
import { getRecord } from 'lightning/uiRecordApi';
import L2lScores from 'c/l2lScores';
import { SECTIONS } from '../fields';

// A record as getRecord answers it: every field the component asks for, with a value and
// Salesforce's formatted displayValue.
function recordOf(objectApiName, skip = []) {
    const fields = {};
    for (const section of SECTIONS[objectApiName]) {
        for (const field of section.fields) {
            if (!skip.includes(field.apiName)) {
                fields[field.apiName] = { value: 7, displayValue: `shown ${field.apiName}` };
            }
        }
    }
    return { apiName: objectApiName, id: '00Q000000000001AAA', fields };
}

function mount(objectApiName) {
    const element = createElement('c-l2l-scores', { is: L2lScores });
    element.recordId = '00Q000000000001AAA';
    element.objectApiName = objectApiName;
    document.body.appendChild(element);
    return element;
}

function shownValues(element) {
    const out = {};
    for (const node of element.shadowRoot.querySelectorAll('.value')) {
        out[node.dataset.field] = node.textContent;
    }
    return out;
}

afterEach(() => {
    while (document.body.firstChild) {
        document.body.removeChild(document.body.firstChild);
    }
    jest.clearAllMocks();
});

describe('c-l2l-scores', () => {
    for (const objectApiName of Object.keys(SECTIONS)) {
        it(`asks getRecord for each ${objectApiName} field it shows, as optional`, async () => {
            const element = mount(objectApiName);
            await Promise.resolve();
            const expected = SECTIONS[objectApiName].flatMap((section) =>
                section.fields.map((field) => `${objectApiName}.${field.apiName}`)
            );
            expect(getRecord.getLastConfig()).toEqual({
                recordId: element.recordId,
                optionalFields: expected
            });
        });

        it(`shows every ${objectApiName} score with its label and formatted value`, async () => {
            const element = mount(objectApiName);
            getRecord.emit(recordOf(objectApiName));
            await Promise.resolve();
            const values = shownValues(element);
            const labels = [...element.shadowRoot.querySelectorAll('.label')].map(
                (node) => node.textContent
            );
            for (const section of SECTIONS[objectApiName]) {
                for (const field of section.fields) {
                    expect(values[field.apiName]).toBe(`shown ${field.apiName}`);
                    expect(labels).toContain(field.label);
                }
            }
            const headings = [...element.shadowRoot.querySelectorAll('h3')].map(
                (node) => node.textContent
            );
            expect(headings).toEqual(SECTIONS[objectApiName].map((section) => section.label));
        });
    }

    it('leaves out a field the user cannot see and shows a dash for one not computed', async () => {
        const [hidden, ...rest] = SECTIONS.Contact.flatMap((s) => s.fields.map((f) => f.apiName));
        const element = mount('Contact');
        const record = recordOf('Contact', [hidden]);
        record.fields[rest[0]] = { value: null, displayValue: null };
        getRecord.emit(record);
        await Promise.resolve();
        const values = shownValues(element);
        expect(values).not.toHaveProperty(hidden);
        expect(values[rest[0]]).toBe('—');
    });

    it('says so when no score is visible, and shows the error of a failed read', async () => {
        const element = mount('Lead');
        getRecord.emit({ apiName: 'Lead', id: '00Q000000000001AAA', fields: {} });
        await Promise.resolve();
        expect(element.shadowRoot.querySelector('.empty')).not.toBeNull();
        expect(element.shadowRoot.querySelectorAll('.value')).toHaveLength(0);

        getRecord.error({ message: 'The requested resource does not exist' });
        await Promise.resolve();
        expect(element.shadowRoot.querySelector('.error').textContent).toBe(
            'The requested resource does not exist'
        );
    });
});
