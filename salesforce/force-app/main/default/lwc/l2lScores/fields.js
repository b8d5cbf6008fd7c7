// Written by `lead2loyalty fields export` from mappings/: edit the mappings and
// export again rather than this file. Object -> sections -> fields the component
// reads (getRecord optionalFields) and shows with these labels.
export const SECTIONS = {
    "Account": [
        {
            "label": "Loyalty",
            "fields": [
                {
                    "apiName": "L2L_Loyalty_Tier__c",
                    "label": "Loyalty Tier"
                },
                {
                    "apiName": "L2L_Points_Balance__c",
                    "label": "Points Balance"
                },
                {
                    "apiName": "L2L_Points_To_Next_Tier__c",
                    "label": "Points To Next Tier"
                },
                {
                    "apiName": "L2L_Points_Expiring_30d__c",
                    "label": "Points Expiring 30d"
                }
            ]
        }
    ],
    "Contact": [
        {
            "label": "Intent",
            "fields": [
                {
                    "apiName": "L2L_Intent_Score__c",
                    "label": "Intent Score"
                },
                {
                    "apiName": "L2L_Intent_Reasons__c",
                    "label": "Intent Reasons"
                }
            ]
        },
        {
            "label": "Customer value",
            "fields": [
                {
                    "apiName": "L2L_Predicted_CLV__c",
                    "label": "Predicted CLV"
                },
                {
                    "apiName": "L2L_Churn_Risk__c",
                    "label": "Churn Risk"
                },
                {
                    "apiName": "L2L_Expected_Next_Order__c",
                    "label": "Expected Next Order"
                }
            ]
        },
        {
            "label": "Loyalty",
            "fields": [
                {
                    "apiName": "L2L_Loyalty_Tier__c",
                    "label": "Loyalty Tier"
                },
                {
                    "apiName": "L2L_Points_Balance__c",
                    "label": "Points Balance"
                },
                {
                    "apiName": "L2L_Points_To_Next_Tier__c",
                    "label": "Points To Next Tier"
                },
                {
                    "apiName": "L2L_Points_Expiring_30d__c",
                    "label": "Points Expiring 30d"
                }
            ]
        }
    ],
    "Lead": [
        {
            "label": "Intent",
            "fields": [
                {
                    "apiName": "L2L_Intent_Score__c",
                    "label": "Intent Score"
                },
                {
                    "apiName": "L2L_Intent_Reasons__c",
                    "label": "Intent Reasons"
                }
            ]
        },
        {
            "label": "Lead conversion",
            "fields": [
                {
                    "apiName": "L2L_Conversion_Score__c",
                    "label": "Conversion Score"
                },
                {
                    "apiName": "L2L_Conversion_Factors__c",
                    "label": "Conversion Factors"
                }
            ]
        }
    ]
};
